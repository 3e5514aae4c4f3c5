"""Where asset values live between runs (pluggable; the filesystem by default)."""

from headwater.values.filesystem import FilesystemValueStore
from headwater.values.fsspec_store import FsspecValueStore
from headwater.values.interface import ValueStore

__all__ = ["FilesystemValueStore", "FsspecValueStore", "ValueStore"]
