"""Values as files under the Headwater home: Parquet for tables, pickle for the rest.

Each write goes to a temporary file that is renamed into place, so a crash mid-write
never leaves a half value where a downstream asset would read it. A pandas DataFrame or
a pyarrow Table is stored as Parquet when pyarrow is installed, so other tools can read
it; everything else is pickled.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from headwater.core.keys import AssetKey
from headwater.errors import ValueStoreError

_UNPARTITIONED = "__all__"


def _parquet_kind(value: Any) -> str | None:
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return "pandas"
    if module.startswith("pyarrow") and type(value).__name__ == "Table":
        return "arrow"
    return None


class FilesystemValueStore:
    name = "filesystem"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def config(self) -> dict[str, Any]:
        return {"type": self.name, "root": str(self.root)}

    def _base(self, key: AssetKey, partition: str) -> Path:
        return self.root.joinpath(*key.path) / (partition or _UNPARTITIONED)

    def save(self, key: AssetKey, partition: str, value: Any) -> str:
        base = self._base(key, partition)
        kind = _parquet_kind(value)
        if kind is not None:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                kind = None
        suffix = f".{kind}.parquet" if kind else ".pickle"
        target = base.with_name(base.name + suffix)
        tmp = None
        try:
            base.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=base.parent, prefix=".tmp-" + base.name)
            with os.fdopen(fd, "wb") as fh:
                if kind:
                    self._write_parquet(value, kind, fh)
                else:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError as exc:  # the disk, not the value: full, read-only, no permission
            _discard(tmp)
            raise ValueStoreError(
                f"could not write the value of asset {key} to {base.parent}: {exc.strerror or exc} "
                f"(errno {exc.errno}); the {self.name} value store needs room and write access there"
            ) from exc
        except Exception as exc:
            _discard(tmp)
            raise ValueStoreError(
                f"asset {key} returned a value of type {type(value).__qualname__} that the {self.name} value store "
                f"cannot store ({type(exc).__name__}: {exc}); return something picklable, a DataFrame, or None "
                "and write the data yourself"
            ) from exc
        return str(target.relative_to(self.root))

    @staticmethod
    def _write_parquet(value: Any, kind: str, fh: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(value) if kind == "pandas" else value
        pq.write_table(table, fh)

    def load(self, key: AssetKey, partition: str, ref: str) -> Any:
        path = self.root / ref
        try:
            if ref.endswith(".parquet"):
                import pyarrow.parquet as pq

                table = pq.read_table(path)
                return table.to_pandas() if ref.endswith(".pandas.parquet") else table
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError as exc:
            raise ValueStoreError(
                f"the stored value of asset {key} is gone ({path}); materialize {key} again") from exc
        except Exception as exc:
            raise ValueStoreError(f"could not load the stored value of asset {key} from {path}: {exc}") from exc


def _discard(tmp: str | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def value_store_from_config(config: dict[str, Any]) -> Any:
    if config.get("type") == FilesystemValueStore.name:
        return FilesystemValueStore(config["root"])
    if config.get("type") == "fsspec":
        from headwater.values.fsspec_store import FsspecValueStore

        return FsspecValueStore(config["url"], **config.get("options", {}))
    raise ValueStoreError(f"unknown value store type {config.get('type')!r}")
