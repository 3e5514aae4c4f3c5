"""A materialization read back as the few values status needs, the rest on first use.

The status of 365,000 partitions reads, per partition, its latest materialization's run,
time, code and data versions, data time, declared deps and the version of every input it
read — never its metadata, value reference or duration. Decoding a whole JSON event per
partition to get those cost more than everything else a cold status does, so the store
keeps them in columns of the latest-state row (``asset_latest.mat_*``) and hands back a
``SummarizedMaterialization``: an ``AssetMaterialized`` whose status fields are filled from
those columns, and whose other fields (``inputs``, ``metadata``, ``step_key``, ``value_ref``,
``duration``) are the stored event's, fetched and decoded the first time one is read — by a
partition page, ``why``, or a JSON dump. Stored events never change, so late is the same as
early. The recorded input versions stay a compact text until status asks
(``input_versions``), parsed by the store's ``MaterializationSource``.

It compares equal to, hashes like and pickles as the full event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from headwater.core.events import AssetMaterialized, InputRecord, InputState
from headwater.core.keys import AssetKey

_set = object.__setattr__
# A state is recorded (as its JSON string) only when it was not ok: a text holding none of
# these holds no such input. One that does may still not (a version spelled so): parsed then.
_NOT_OK = re.compile("|".join(re.escape(f'"{s.value}"') for s in InputState if s is not InputState.OK)).search


class MaterializationSource(Protocol):
    """Where a summarized materialization gets the rest of itself: the store that read it."""

    def full(self, mat: SummarizedMaterialization) -> AssetMaterialized:
        """The stored event ``mat`` summarizes, decoded whole."""
        ...

    def input_versions(self, text: str) -> Sequence[Sequence[Any]]:
        """The recorded inputs text as ``[key, partition, data version(, state)]`` items."""
        ...


class SummarizedMaterialization(AssetMaterialized):
    """See the module docstring. Built only by ``summarize``; treat it as the event it stands for."""

    __slots__ = ("event_id", "inputs_text", "_source", "_full")

    event_id: int
    inputs_text: str
    _source: MaterializationSource
    _full: AssetMaterialized | None

    def _whole(self) -> AssetMaterialized:
        full = self._full
        if full is None:
            full = self._source.full(self)
            _set(self, "_full", full)
        return full

    @property  # type: ignore[override]
    def step_key(self) -> str:
        return self._whole().step_key

    @property  # type: ignore[override]
    def inputs(self) -> tuple[InputRecord, ...]:
        return self._whole().inputs

    @property  # type: ignore[override]
    def metadata(self) -> Mapping[str, Any]:
        return self._whole().metadata

    @property  # type: ignore[override]
    def value_ref(self) -> str | None:
        return self._whole().value_ref

    @property  # type: ignore[override]
    def duration(self) -> float | None:
        return self._whole().duration

    @property
    def ran_on_stale_inputs(self) -> bool:
        if _NOT_OK(self.inputs_text) is None:
            return False  # no input's state recorded: every one was ok (read two or three times a row)
        return any(len(i) > 3 for i in self.input_versions())

    def input_versions(self) -> Sequence[Sequence[Any]]:
        """``[key text, partition, data version(, state if not ok)]`` per input, in recorded order."""
        return self._source.input_versions(self.inputs_text)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AssetMaterialized):
            return self._whole() == (other._whole() if type(other) is SummarizedMaterialization  # type: ignore[attr-defined]
                                     else other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._whole())

    def __repr__(self) -> str:
        return repr(self._whole())

    def __reduce__(self) -> Any:
        full = self._whole()
        return full.__reduce__() if hasattr(full, "__reduce__") else (AssetMaterialized, ())

    def __copy__(self) -> AssetMaterialized:
        return self._whole()

    def __deepcopy__(self, memo: dict[int, Any]) -> AssetMaterialized:
        return self._whole()


# The slots' own setters: a frozen dataclass's ``__init__`` (and ``object.__setattr__``) look
# each attribute up by name, three times the cost of calling its descriptor; one summary is
# built per stored partition on a cold status.
_RUN_ID, _TIMESTAMP, _KEY, _PARTITION, _CODE_VERSION, _DATA_VERSION, _DATA_TIME, _DEPS = (
    getattr(AssetMaterialized, name).__set__ for name in (
        "run_id", "timestamp", "key", "partition", "code_version", "data_version", "data_time", "deps"))
_EVENT_ID, _INPUTS_TEXT, _SOURCE, _FULL = (
    SummarizedMaterialization.__dict__[name].__set__ for name in ("event_id", "inputs_text", "_source", "_full"))
_new = object.__new__


def summarize(source: MaterializationSource, event_id: int, run_id: str | None, timestamp: float, key: AssetKey,
              partition: str, code_version: str | None, data_version: str | None, data_time: float | None,
              deps: tuple[AssetKey, ...], inputs_text: str) -> SummarizedMaterialization:
    m = _new(SummarizedMaterialization)
    _RUN_ID(m, run_id)
    _TIMESTAMP(m, timestamp)
    _KEY(m, key)
    _PARTITION(m, partition)
    _CODE_VERSION(m, code_version)
    _DATA_VERSION(m, data_version)
    _DATA_TIME(m, data_time)
    _DEPS(m, deps)
    _EVENT_ID(m, event_id)
    _INPUTS_TEXT(m, inputs_text)
    _SOURCE(m, source)
    _FULL(m, None)
    return m
