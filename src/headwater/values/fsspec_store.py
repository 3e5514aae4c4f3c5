"""Values through an fsspec URL: ``file:///shared/values``, ``s3://bucket/values``, ...

For a cluster whose workers share no mounted filesystem, or share one under another name:
every worker opens the same URL itself (fsspec comes with Dask; the protocol's own package,
``s3fs`` or ``gcsfs``, is the user's to install). Same layout and formats as the home's
filesystem store (Parquet for tables, pickle for the rest); a value is written under a
temporary name and moved into place, so a reader never sees half of one (a rename on a
filesystem, a single upload on an object store).

Use it as the project's value store: ``hw.Definitions(..., value_store=FsspecValueStore(url))``.
"""

from __future__ import annotations

import pickle
import uuid
from typing import Any

from headwater.core.keys import AssetKey
from headwater.errors import ValueStoreError
from headwater.values.filesystem import _UNPARTITIONED, FilesystemValueStore, _parquet_kind


class FsspecValueStore:
    name = "fsspec"

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            import fsspec
        except ImportError:
            raise ValueStoreError(f"the value store at {url} needs fsspec: pip install 'headwater[dask]' "
                                  "(or fsspec)") from None
        self.url = url.rstrip("/")
        self.storage_options = storage_options
        try:
            self._fs, self._root = fsspec.core.url_to_fs(self.url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ValueStoreError(f"cannot open the value store at {url}: {exc}") from None

    def config(self) -> dict[str, Any]:
        return {"type": self.name, "url": self.url, "options": dict(self.storage_options)}

    def __reduce__(self) -> Any:  # a worker rebuilds it from the URL, not from a live filesystem
        return (_rebuild, (self.url, self.storage_options))

    def save(self, key: AssetKey, partition: str, value: Any) -> str:
        kind = _parquet_kind(value)
        if kind is not None:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                kind = None
        ref = "/".join((*key.path, (partition or _UNPARTITIONED) + (f".{kind}.parquet" if kind else ".pickle")))
        target = f"{self._root}/{ref}"
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        try:
            self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            with self._fs.open(tmp, "wb") as fh:
                if kind:
                    FilesystemValueStore._write_parquet(value, kind, fh)  # noqa: SLF001 - one writer of Parquet
                else:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            self._fs.mv(tmp, target)
        except OSError as exc:
            self._discard(tmp)
            raise ValueStoreError(f"could not write the value of asset {key} to {self.url}/{ref}: {exc}") from exc
        except Exception as exc:
            self._discard(tmp)
            raise ValueStoreError(
                f"asset {key} returned a value of type {type(value).__qualname__} that the value store at "
                f"{self.url} cannot store ({type(exc).__name__}: {exc}); return something picklable, a DataFrame, "
                "or None and write the data yourself") from exc
        return ref

    def load(self, key: AssetKey, partition: str, ref: str) -> Any:
        path = f"{self._root}/{ref}"
        try:
            with self._fs.open(path, "rb") as fh:
                if ref.endswith(".parquet"):
                    import pyarrow.parquet as pq

                    table = pq.read_table(fh)
                    return table.to_pandas() if ref.endswith(".pandas.parquet") else table
                return pickle.load(fh)
        except FileNotFoundError as exc:
            raise ValueStoreError(
                f"the stored value of asset {key} is gone ({self.url}/{ref}); materialize {key} again") from exc
        except Exception as exc:
            raise ValueStoreError(f"could not load the stored value of asset {key} from {self.url}/{ref}: "
                                  f"{exc}") from exc

    def _discard(self, tmp: str) -> None:
        try:
            self._fs.rm(tmp)
        except Exception:  # noqa: BLE001 - never written, or already gone
            pass


def _rebuild(url: str, options: dict[str, Any]) -> FsspecValueStore:
    return FsspecValueStore(url, **options)
