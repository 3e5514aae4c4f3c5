"""A cheaper pickle for the frozen, slotted dataclasses that cross a worker's pipe.

Pickle handles a slotted dataclass through the ``__getstate__``/``__setstate__`` that
``dataclasses`` writes for it, which call ``fields()`` for every object, every time: a
request and its outcome (a dozen such objects together) cost ~0.1 ms of CPU to pickle and
unpickle on a loaded machine, half on each side of the pipe, as much as a tenth of a no-op
step. Here each class's field names are looked up once; an object is pickled as its class
and a tuple of values, and rebuilt by setting those slots (what the generated
``__setstate__`` does, without the lookup). Only ``multiprocessing``'s pickler is told
(``ForkingPickler.register``): pickles made anywhere else are unchanged.
"""

from __future__ import annotations

import dataclasses
from multiprocessing.reduction import ForkingPickler
from typing import Any

_FIELDS: dict[type, tuple[str, ...]] = {}


def _rebuild(cls: type, values: tuple[Any, ...]) -> Any:
    obj = object.__new__(cls)
    for name, value in zip(_FIELDS[cls] if cls in _FIELDS else _names(cls), values):
        object.__setattr__(obj, name, value)
    return obj


def _reduce(obj: Any) -> tuple[Any, tuple[type, tuple[Any, ...]]]:
    cls = type(obj)
    return _rebuild, (cls, tuple([getattr(obj, name) for name in _FIELDS[cls]]))


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def register(*classes: type) -> None:
    """Pickle these classes the cheap way on worker pipes. A class whose slots are not exactly
    its fields (or that is not a slotted dataclass) keeps the ordinary way."""
    for cls in classes:
        if not dataclasses.is_dataclass(cls):
            continue
        slots = {s for klass in cls.__mro__ for s in klass.__dict__.get("__slots__", ())}
        names = _names(cls)
        if not slots or slots != set(names):
            del _FIELDS[cls]
            continue
        ForkingPickler.register(cls, _reduce)
