"""``headwater ui``'s first page before the user's project is loaded.

A UI over 10,000 assets spent a third of its first second importing the user's project
(0.2 s; 0.35-0.45 s with a freshness policy and two checks per asset) before it listened,
though its first ``/api/assets`` is ``headwater status``'s stored rows
(``stored_assets.py``), which need of the definitions only their fingerprint (to find and
trust the rows) and their freshness policies (to evaluate them now). Both are data.

So a UI that loaded a project keeps them here, in ``<home>/ui-cache/first-page.json``, keyed
like a workspace's definitions cache (``definitions/definitions_cache.py``): by the files
the definitions were read from, with size and mtime — every module the load imported from
outside the Python installation, every other file it opened, every folder its code listed
(not the import system's listings of ``sys.path`` folders: a project folder gains files,
a home, run outputs, that change no definition) — and
by the location, the interpreter, ``sys.path`` and Headwater's own code. The next UI of the
same project that finds every one of them as it was listens at once, answers ``/`` (a frame)
and the whole graph's ``/api/assets`` from the stored rows, and loads the project once the
server is quiet (or as soon as a request needs it). When loaded, the definitions' fingerprint
is checked against the one the rows were served for; a mismatch (definitions that depend on
something other than their files: an environment variable, the clock) is reported and the
key forgotten, so that UI and every later one loads first.

Only where ``status``'s rows can serve at all (``status_snapshot.eligible``: no partitions,
one location) and the location has no integration table (a dbt project's definitions come
from its manifest and its parse, not from the files Python opened).
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from headwater.definitions.definitions_cache import file_stats, files_unchanged

FORMAT = 1
FILE = "first-page.json"
STALE_TMP = 600.0  # seconds: a half-written old body no UI is still writing
_PACKAGE = Path(__file__).resolve().parent.parent

# -- what a load reads -----------------------------------------------------------------------

_recording: list[tuple[int, set[str], set[str]]] = []  # (thread, files, folders) of the loads recording now
_hooked = False
_hook_lock = threading.Lock()


def _installed_roots() -> tuple[str, ...]:
    """Where the Python installation's modules live: files there change only with it."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(sorted(os.path.join(os.path.realpath(r), "") for r in roots))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _recording:
        return
    if event == "open":
        path, mode, flags = args[0], args[1], args[2] if len(args) > 2 else 0
        # ``open()`` says its mode; ``os.open`` (mode None) only its flags: the import system
        # writes a module's bytecode through a temporary ``x.pyc.<id>`` opened so, which is
        # no file the definitions were read from (recorded as absent, its reappearing for
        # the next bytecode write of that module dropped the key).
        writes = any(c in str(mode) for c in "wax+") if mode is not None else \
            bool((flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if isinstance(path, (str, bytes, os.PathLike)) and not writes:
            target = os.fsdecode(path)
            if not target.endswith(".pyc"):  # bytecode: its source is recorded as the module's file
                me = threading.get_ident()
                for thread, files, _ in _recording:
                    if thread == me:  # not what a request served meanwhile reads
                        files.add(target)
    elif event in ("os.listdir", "os.scandir"):
        path = args[0]
        if sys._getframe(1).f_code.co_filename.startswith("<frozen importlib"):
            return  # the import system's own listing of a sys.path folder (its modules are recorded)
        if isinstance(path, (str, bytes, os.PathLike)) or path is None:
            folder = os.fsdecode(path) if path is not None else "."
            me = threading.get_ident()
            for thread, _, folders in _recording:
                if thread == me:
                    folders.add(folder)


@contextmanager
def recording_reads() -> Iterator[list[list[Any]]]:
    """Record what the ``with`` block reads: yields a list filled, at its end, with the
    ``[path, size, mtime_ns]`` of every module it imported from outside the installation,
    every other file its thread opened for reading and every folder it listed (an audit hook:
    ``sys.addaudithook``, installed once, idle while nothing records)."""
    global _hooked
    with _hook_lock:
        if not _hooked:
            sys.addaudithook(_audit)
            _hooked = True
    before = set(sys.modules)
    files: set[str] = set()
    folders: set[str] = set()
    entry = (threading.get_ident(), files, folders)
    stats: list[list[Any]] = []
    _recording.append(entry)
    try:
        yield stats
    finally:
        _recording.remove(entry)
    for name in set(sys.modules) - before:
        f = getattr(sys.modules.get(name), "__file__", None)
        if f:
            files.add(f)
    installed = _installed_roots()
    paths = set()
    for p in (*files, *folders):
        real = os.path.realpath(p)
        if not real.startswith(installed) and not real.endswith(".pyc"):
            paths.add(real)
    stats.extend(file_stats(sorted(paths)))


# -- the key ---------------------------------------------------------------------------------


def identity(location: Any) -> str:
    """What else the definitions and the stored rows depend on: where the project is, which
    Python runs it with which path, Headwater's code (its authoring API; the row code is
    in the snapshot's fingerprint, recomputed from the stored one below)."""
    from headwater.service import status_snapshot

    stamps = []
    for f in sorted((_PACKAGE / "definitions").glob("*.py")):
        st = f.stat()
        stamps.append(f"{f.name}:{st.st_mtime_ns}:{st.st_size}")
    text = "\n".join([f"first-page-{FORMAT}", location.to_json(), os.getcwd(), sys.executable,
                      os.pathsep.join(sys.path), status_snapshot._code_stamp(), ";".join(stamps)])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def usable(location: Any) -> bool:
    """Whether this location's definitions can be known by their files alone."""
    return location.pyproject is None and bool(location.file or location.module)


class FirstPageKey:
    """What the first ``/api/assets`` needs of a project's definitions, as data."""

    def __init__(self, fingerprint: str, keys: dict[int, str], policies: dict[int, Any], loaded: Any = None) -> None:
        self.fingerprint = fingerprint
        self._keys = keys          # index in the graph's order -> key text, of the assets with a policy
        self._policies = policies  # the same index -> FreshnessPolicy
        self._loaded = loaded

    def stand_in(self) -> Any:
        """An object that ``status_snapshot.load`` reads as the definitions (``graph.keys[i]``
        and ``graph.spec(key).freshness`` of the rows with a policy); the definitions
        themselves when they were loaded before listening (``of``)."""
        return self._loaded if self._loaded is not None else _DefinitionsStandIn(self._keys, self._policies)

    @staticmethod
    def of(defs: Any) -> FirstPageKey:
        """The key of definitions loaded before listening (a project edited since its last UI,
        or its first UI): the first page is still answered before the app is imported, from
        the rows kept for these definitions, or for the ones before the edit brought up to
        date (``stored_assets.py``)."""
        from headwater.service import status_snapshot

        return FirstPageKey(status_snapshot.fingerprint(defs), {}, {}, loaded=defs)

    @staticmethod
    def find(home: Path, location: Any, identity: str) -> FirstPageKey | None:
        """The key kept for ``location`` if its ``identity`` (taken before loading anything)
        and every file it was read from are unchanged."""
        try:
            raw = orjson.loads((home / "ui-cache" / FILE).read_bytes())
            if raw.get("format") != FORMAT or raw["identity"] != identity \
                    or not files_unchanged(raw["files"]):
                return None
            from headwater.definitions.data_codec import decode

            kinds = [decode(p) for p in raw["kinds"]]
            keys: dict[int, str] = {}
            policies: dict[int, Any] = {}
            for i, key, kind in raw["policies"]:
                keys[i] = key
                policies[i] = kinds[kind]
            return FirstPageKey(raw["fingerprint"], keys, policies)
        except (OSError, ValueError, KeyError, TypeError, IndexError):  # none, or damaged: load first
            return None


def remember(home: Path, location: Any, defs: Any, reads: list[list[Any]], identity: str) -> None:
    """Keep ``defs``' fingerprint and policies for the next UI of ``location`` (unless the
    rows could not serve them anyway); ``identity`` and ``reads`` as taken around its load."""
    from headwater.definitions.data_codec import encode
    from headwater.service import status_snapshot

    if not usable(location) or not reads or not status_snapshot.eligible(defs):
        forget(home)
        return
    kinds: dict[Any, int] = {}
    rows = []
    graph = defs.graph
    for i, key in enumerate(graph.keys):
        policy = graph.spec(key).freshness
        if policy is not None:
            rows.append([i, key._str, kinds.setdefault(policy, len(kinds))])
    body = {"format": FORMAT, "identity": identity, "files": reads,
            "fingerprint": status_snapshot.fingerprint(defs), "kinds": [encode(p) for p in kinds], "policies": rows}
    folder = home / "ui-cache"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".first-page.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(body))
    os.replace(tmp, folder / FILE)


def forget(home: Path) -> None:
    (home / "ui-cache" / FILE).unlink(missing_ok=True)


class _Key:
    __slots__ = ("_str", "index")

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self._str = text


class _Keys:
    def __init__(self, keys: dict[int, str]) -> None:
        self._keys = {i: _Key(i, text) for i, text in keys.items()}

    def __getitem__(self, i: int) -> _Key:
        key = self._keys.get(i)
        if key is None:
            raise ValueError("a snapshot of other definitions")  # a row with a policy the key lacks
        return key


class _Spec:
    __slots__ = ("freshness",)

    def __init__(self, freshness: Any) -> None:
        self.freshness = freshness


class _GraphStandIn:
    partitioned = False

    def __init__(self, keys: dict[int, str], policies: dict[int, Any]) -> None:
        self.keys = _Keys(keys)
        self._specs = {i: _Spec(p) for i, p in policies.items()}
        self._none = _Spec(None)

    def spec(self, key: _Key) -> _Spec:
        return self._specs.get(key.index, self._none)


class _DefinitionsStandIn:
    location_of = None
    rows_only = True  # read stored rows with, nothing else (``StoredAssets`` brings none up to date)

    def __init__(self, keys: dict[int, str], policies: dict[int, Any]) -> None:
        self.graph = _GraphStandIn(keys, policies)


# -- loading after listening -----------------------------------------------------------------


class DeferredDefinitions:
    """A project's definitions, loaded by the first caller of ``get`` (the warm-up once the
    server is quiet, or a request that needs them); the others wait for that load."""

    def __init__(self, load: Callable[[], Any], early: FirstPageKey,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._load = load
        self.early = early
        self.on_error = on_error
        self._lock = threading.Lock()
        self._defs: Any = None
        self.error: BaseException | None = None

    @property
    def loaded(self) -> bool:
        return self._defs is not None

    def get(self) -> Any:
        if self._defs is not None:
            return self._defs
        with self._lock:
            if self._defs is None and self.error is None:
                try:
                    self._defs = self._load()
                except BaseException as exc:  # noqa: BLE001 - kept, re-raised to every caller, reported once
                    self.error = exc
                    if self.on_error is not None:
                        self.on_error(exc)
            if self.error is not None:
                raise self.error
            return self._defs


def clean_old_bodies(home: Path, now: float | None = None) -> int:
    """Remove the ``ui-cache/assets-*.json`` bodies kept by Headwater before the fifth session
    (nothing reads them since ``status``'s rows replaced them: they only took space, tens of
    MB each), and their half-written ``assets-*.tmp`` older than ``STALE_TMP`` seconds (an
    older UI may still be writing a young one). Only plain files of those names; the layouts
    and this module's key stay. Returns how many were removed."""
    import time

    now = time.time() if now is None else now
    removed = 0
    folder = home / "ui-cache"
    try:
        found = [*folder.glob("assets-*.json"), *folder.glob("assets-*.tmp")]
    except OSError:
        return 0
    for f in found:
        try:
            st = f.lstat()
            if not stat.S_ISREG(st.st_mode) or (f.suffix == ".tmp" and now - st.st_mtime < STALE_TMP):
                continue
            f.unlink()
            removed += 1
        except OSError:  # gone meanwhile, or not ours to remove: left
            pass
    return removed
