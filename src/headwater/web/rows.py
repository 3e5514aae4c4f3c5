"""``GET /api/assets`` rows as JSON text, written directly.

A row is a ``status --json`` row (``reports.health_to_dict``), bounded as ``shapes.py``
describes. For 10,000 assets the response is ~20 MB: building a dict per row (and per
cause, root cause, check) and then encoding them took longer than deriving the health of
the whole graph, and the first request after every change pays for it. Here each row is
one f-string over pieces that are JSON already:

* what never changes per asset (its key, group, kinds, code version) is encoded once per
  graph, every key once per process, every root cause once per build — a deep graph's
  assets share most of their root causes, so the same text is joined, not re-encoded;
* times go through a bounded memo (an unchanged asset has the same times in the next
  snapshot, and a data time is shared by everything downstream of one source);
* strings are escaped by the standard library's C encoder, exactly as ``json.dumps`` does;
* a part of a row is written again only when what it is written from changed (see
  ``RowWriter``): after a run, most of a row is the text of the previous snapshot.

``tests/web/test_rows.py`` holds it to ``health_to_dict`` field for field; change the two
together.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring_ascii as _s  # type: ignore[attr-defined]
from typing import Any

from headwater.core.asset_graph import AssetGraph
from headwater.core.health import AssetHealth
from headwater.core.keys import AssetKey
from headwater.gc_pause import paused_gc
from headwater.reports import ROOTS_LISTED, iso, listed_causes

MAX_ROOTS = ROOTS_LISTED
# Enum members' text is read as ``member._value_`` (the attribute the enum module itself keeps,
# documented for custom enums) rather than ``.value``, a Python-level property: a 10,000-row
# build reads it ~80,000 times.
REASON_CHARS = 300
NULL = "null"


@functools.lru_cache(maxsize=1 << 16)
def _time(ts: float) -> str:
    return '"' + iso(ts) + '"'  # type: ignore[operator]  # iso gives ASCII digits only: no escaping


def _opt_time(ts: float | None) -> str:
    return NULL if ts is None else _time(ts)


def _opt(text: str | None) -> str:
    return NULL if text is None else _s(text)


def _number(value: float | None) -> str:
    if type(value) is float:
        return repr(value) if math.isfinite(value) else NULL  # what json.dumps writes; NaN is not JSON
    return NULL if value is None else json.dumps(value)


_SCALAR = {str: _s, int: str, float: _number, bool: lambda v: "true" if v else "false", type(None): lambda v: NULL}


def _mapping(values: Mapping[str, Any]) -> str:
    """A metadata mapping as JSON: flat ones (the usual: names to numbers and words) directly,
    anything else through ``plain`` and ``json.dumps``."""
    parts = []
    for k, v in values.items():
        write = _SCALAR.get(type(v))
        if write is None or type(k) is not str:
            return json.dumps(plain(values), separators=(",", ":"))
        parts.append(_s(k) + ":" + write(v))
    return "{" + ",".join(parts) + "}"


def plain(value: Any) -> Any:
    """JSON-safe: mappings and sequences recursively; anything else odd becomes its text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return str(value)


class RowWriter:
    """Writes the bounded rows of one graph; keeps the JSON of what did not change.

    A row is written from parts, each kept per asset with the object it was written from:
    the status part (every field ``status_to_dict`` gives) while the service hands out the
    same frozen ``AssetStatus`` (it does for an asset whose stored facts and upstream did not
    change), the reasons and each check while they are equal. So after a run only what the
    run changed is written again — and the freshness part, whose lateness moves with the clock.
    """

    def __init__(self, graph: AssetGraph) -> None:
        self._graph = graph
        self._keys: dict[AssetKey, str] = {}                               # a key as a JSON string
        self._static: dict[AssetKey, tuple[str, str]] = {}                 # group and kinds; code version
        self._policies: dict[AssetKey, tuple[Any, str]] = {}               # freshness policy -> its words
        self._status: dict[AssetKey, tuple[Any, str, bool]] = {}           # status -> JSON, roots cut?
        self._reasons: dict[AssetKey, tuple[tuple[str, ...], str, bool]] = {}  # reasons -> JSON, cut?
        self._checks: dict[tuple[AssetKey, str], tuple[Any, str]] = {}     # check status -> JSON
        self._whole: dict[AssetKey, tuple[Any, ...]] = {}                  # all of it, without freshness

    def rows(self, healths: Iterable[AssetHealth]) -> list[str]:
        """One JSON object per health, in order."""
        memo: dict[int, str] = {}
        with paused_gc():  # a few strings per row, all kept: a collection would free nothing
            return [self.row(h, memo) for h in healths]

    def forget(self) -> None:
        """Write every part again next time (``bench/web_bench.py`` times that case too)."""
        self._status, self._reasons, self._checks, self._whole = {}, {}, {}, {}

    def row(self, h: AssetHealth, memo: dict[int, str] | None = None) -> str:
        """``memo`` shares the JSON of root causes within one build: they are told apart by
        ``id``, so it must not outlive the healths it was used on."""
        st = h.status
        key = st.key
        if h.freshness is None:
            whole = self._whole.get(key)
            if (whole is not None and whole[0] is st and whole[1] is h.health and whole[2] == h.reasons
                    and whole[3] == h.checks):
                return whole[4]  # nothing it is written from changed: not even its assembly is needed
        status = self._status.get(key)
        if status is None or status[0] is not st:  # identity: equality would compare cause trees
            status = self._status[key] = (st, *self._status_json(st, {} if memo is None else memo))
        reasons = self._reasons.get(key)
        if reasons is None or reasons[0] != h.reasons:
            reasons = self._reasons[key] = (h.reasons, *reasons_json(h.reasons))
        f = h.freshness
        if f is None:
            fresh = overdue = NULL
        else:
            policy = self._policies.get(key)
            if policy is None or policy[0] is not f.policy:
                policy = self._policies[key] = (f.policy, _s(f.policy.describe()))
            overdue = _opt_time(f.overdue_since)
            fresh = (f'{{"state":"{f.state._value_}","policy":{policy[1]},"overdue_since":{overdue},'
                     f'"late_by_seconds":{_number(f.late_by)},"next_deadline":{_opt_time(f.next_deadline)},'
                     f'"reason":{_s(f.reason)}}}')
        checks = ",".join([self._check(key, c) for c in h.checks]) if h.checks else ""
        cut = ",".join(name for name, was_cut in (('"stale_root_causes"', status[2]), ('"health_reasons"', reasons[2]))
                       if was_cut)
        row = (f'{{{status[1]},"health":"{h.health._value_}","health_reasons":[{reasons[1]}],"freshness":{fresh},'
               f'"overdue_since":{overdue},"checks":[{checks}],"cut":[{cut}]}}')
        if f is None:
            self._whole[key] = (st, h.health, h.reasons, h.checks, row)
        return row

    def _key(self, key: AssetKey) -> str:
        text = self._keys.get(key)
        if text is None:
            text = self._keys[key] = _s(str(key))
        return text

    def _spec(self, key: AssetKey) -> tuple[str, str]:
        static = self._static.get(key)
        if static is None:
            spec = self._graph.spec(key)
            static = self._static[key] = (f'"group":{_s(spec.group)},"kinds":'
                                          f'[{",".join(_s(k) for k in sorted(spec.kinds))}],'
                                          f'"owners":[{",".join(_s(o) for o in spec.owners)}],'
                                          f'"tags":{_mapping(spec.tags)}', _opt(spec.code_version))
        return static

    def _status_json(self, st: Any, memo: dict[int, str]) -> tuple[str, bool]:
        """The fields of ``reports.status_to_dict``, without the braces; and whether the root
        causes were cut."""
        group_kinds, code_version = self._spec(st.key)
        causes = ",".join([self._cause(c) for c in listed_causes(st.causes)])
        head = st.roots[:MAX_ROOTS + 1]  # never len(roots): they are derived lazily
        cut = len(head) > MAX_ROOTS
        roots = []
        for c in head[:MAX_ROOTS]:
            text = memo.get(id(c))
            if text is None:
                text = memo[id(c)] = self._cause(c)
            roots.append(text)
        mat = st.last_materialization
        return (
            f'"key":{self._key(st.key)},{group_kinds},"is_source":{"true" if st.is_source else "false"},'
            f'"status":"{st.status._value_}","stale":{"true" if st.stale else "false"},'
            f'"stale_causes":[{causes}],"stale_cause_count":{len(st.causes)},"stale_root_causes":[{",".join(roots)}],'
            f'"last_materialized_at":{_time(mat.timestamp) if mat is not None else NULL},'
            f'"last_observed_at":{_opt_time(st.last_updated_at) if st.is_source else NULL},'
            f'"run_id":{_opt(st.last_run_id)},"last_attempt_run_id":{_opt(st.last_attempt_run_id)},'
            f'"data_version":{_opt(st.data_version)},"data_time":{_opt_time(st.data_time)},'
            f'"code_version":{code_version},'
            f'"ran_on_stale_inputs":{"true" if mat is not None and mat.ran_on_stale_inputs else "false"},'
            f'"error":{_s(st.failure.message) if st.failure else NULL},'
            f'"partitions":{_partitions(st.partitions)}'
        ), cut

    def _cause(self, c: Any) -> str:
        """``reports.cause_ref``."""
        return f'{{"kind":"{c.kind._value_}","key":{self._key(c.key)},"dep":{self._key(c.dep) if c.dep else NULL}}}'

    def _check(self, key: AssetKey, c: Any) -> str:
        kept = self._checks.get((key, c.name))
        if kept is not None and (kept[0] is c or kept[0] == c):
            return kept[1]
        text = (f'{{"name":{_s(c.name)},"state":"{c.state._value_}","severity":{_s(c.severity)},'
                f'"blocking":{"true" if c.blocking else "false"},"evaluated_at":{_opt_time(c.evaluated_at)},'
                f'"run_id":{_opt(c.run_id)},"detail":{_s(c.detail)},'
                f'"metadata":{_mapping(c.metadata)}}}')
        self._checks[(key, c.name)] = (c, text)
        return text


def _partitions(pset: Any) -> str:
    """``reports.partitions_to_dict`` as JSON: null for an unpartitioned asset."""
    if pset is None:
        return NULL
    return (f'{{"total":{pset.total},"materialized":{pset.materialized},"missing":{pset.missing},'
            f'"failed":{pset.failed},"running":{pset.running},"stale":{pset.stale},"summary":{_s(pset.summary())}}}')


def reasons_json(reasons: tuple[str, ...]) -> tuple[str, bool]:
    """The reasons, each cut to ``REASON_CHARS``; and whether any was."""
    out = []
    cut = False
    for r in reasons:
        if len(r) > REASON_CHARS:
            r = r[:REASON_CHARS] + f"… ({len(r)} characters)"
            cut = True
        out.append(_s(r))
    return ",".join(out), cut
