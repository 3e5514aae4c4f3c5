"""``headwater status``'s rows, kept on disk for the next process that asks.

Every ``status`` process used to rebuild the whole graph's state: decode every asset's latest
materialization, derive every status and health, write every row — about 0.8 s of CPU for
10,000 assets, most of a command that should answer in under a second. Between two such
commands nothing usually changed. So whoever computes the rows stores them, with what they
were computed from, and the next process prints them when that has not changed.

**Correct by construction.** A snapshot is keyed by

- the store's last event id, read *before* the state is read: a write landing during the
  computation moves the id past the key, so the snapshot is never taken for newer than it
  is (every write to the store is an event with a new, higher id). It still holds at a later
  id when no latest fact or check result changed since and no run is in progress
  (``holds_since``: a daemon's ticks, a run that touched no asset);
- a fingerprint of everything in the definitions the rows are derived from (keys, deps,
  group, kinds, owners, tags, code version, source or not, freshness policy; the check
  specs), the snapshot format, and Headwater's own code (the modules that derive and write
  the rows: an upgrade or an edit recomputes);

and only kept where the rows depend on nothing else: no partitioned asset (time windows grow
with the clock), no run in progress (a run whose process died is only marked failed by the
next full read). Anything outside that computes afresh, which is always right; so does a
missing or damaged snapshot.

**Freshness moves with the clock; the rest does not.** A row of an asset with a freshness
policy is stored without its health, reasons and freshness (``reports.HEALTH_FIELDS``): a
NUL byte (never in JSON text) marks their place, and the index keeps the asset's data time
and the clock-free part of its health (``core.health.HealthBasis``). A reader evaluates
the policy at its own ``now`` and puts the fields back: the same bytes a full computation
at that moment gives (``health_at`` is what ``derive_health`` is made of).

**Kept current by whoever writes, row by row.** The process that wrote (a run that ended in
``Instance.materialize`` or ``execute_queued``, ``Instance.check``, ``Instance.observe``)
holds the definitions and a warm store; when a snapshot of these definitions exists
(someone reads ``status``), it brings it up to date (``status_refresh.refresh``), so the
``status`` typed next prints stored rows. A ``status`` that finds the snapshot older than
the store (a write by any other process) does the same before printing, and so does the
first ``status`` after an edit of the definitions, from the snapshot of the definitions
before it. Either way only the rows of the assets whose latest facts, check results or own
definition changed since, and of everything downstream of them, are derived again; the
others are copied (``service/status_refresh.py``).

**Read by ``headwater ui`` too.** A UI's first ``/api/assets`` sends these rows (bounded as
the API bounds them, ``web/row_bounds.py``) while no state has been derived in its process,
so a UI started right after a run answers from what the run's process kept. A UI that
derived every asset's health itself stores it here (``status_refresh.keep``) for the next process.

The rows are ``reports.health_to_dict``'s, encoded one by one; beside each, the short
summary (``reports.row_summary``) that the table and the filters read. One file per
definitions fingerprint in ``<home>/snapshots/`` (``storage/snapshot_files.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.core.events import RunStatus
from headwater.service.status_rows import (
    DocumentWriter,
    StatusRows,
    _split,
    _Timed,
)
from headwater.storage.snapshot_files import SnapshotDraft, open_snapshot, prune

if TYPE_CHECKING:
    from headwater.definitions.definitions import Definitions
    from headwater.service.instance import Instance

FORMAT = 5  # 5: each asset's digest in the index, the code stamp in the header (rows reused across an edit)
FOLDER = "snapshots"
KEEP = 3  # snapshots of the newest definitions versions kept (switching branches back and forth)
_PACKAGE = Path(__file__).resolve().parent.parent
# The code the rows are derived with: status and health (core), the rows (reports), this.
_CODE = ("core", "reports.py", "service/status_snapshot.py", "service/status_rows.py", "service/status_refresh.py",
         "service/instance.py", "storage/sql/latest.py", "storage/sql/codec.py", "storage/sql/checks.py")


def eligible(defs: Definitions) -> bool:
    """Whether the rows depend on the definitions, the stored events and the clock's effect
    on freshness alone (see above)."""
    graph = defs.graph
    return not graph.partitioned and getattr(defs, "location_of", None) is None
    # a workspace's rows also depend on which locations are loaded now


def _policy_text(policy: Any) -> str:
    if policy is None:
        return ""
    deadline = policy.deadline
    return (f"{policy.max_lag!r},{policy.warn_lag!r},{policy.lag!r},"
            f"{(deadline.expression, deadline.timezone) if deadline is not None else None}")


def fingerprint(defs: Definitions) -> str:
    """Names everything of the definitions (and of Headwater's code) the rows are derived from."""
    digest = hashlib.blake2b(f"status-snapshot-{FORMAT}\n{_code_stamp()}\n".encode(), digest_size=16)
    digest.update("".join(_asset_lines(defs)).encode())
    return digest.hexdigest()


_LINES: list[Any] = [None, None, None]  # the last definitions whose lines were taken, their lines and digests


def _asset_lines(defs: Definitions) -> list[str]:
    """Per asset (``graph.keys``' order), everything of the definitions its row is derived from
    besides its ancestors: an asset whose line and ancestors' lines are unchanged after an edit
    keeps its row (``status_refresh``). Taken once per definitions: the fingerprint and the
    digests read the same lines."""
    if _LINES[0] is defs:
        return _LINES[1]
    graph = defs.graph
    spec_of = graph.spec
    checks: dict[Any, str] = {}
    for c in defs.check_specs:
        checks[c.asset] = checks.get(c.asset, "") + f"check\t{c.name}\t{c.severity}\t{c.blocking}\n"
    lines = []
    add = lines.append
    for key in graph.keys:
        s = spec_of(key)
        # most specs have no kinds, owners or tags: one test instead of three sorts
        labels = f"{sorted(s.kinds)}{s.owners}{sorted(s.tags.items())}" if s.kinds or s.owners or s.tags else ""
        policy = _policy_text(s.freshness) if s.freshness is not None else ""
        line = (f"{key._str}\t{','.join([d._str for d in s.deps])}\t{s.group}\t{labels}\t{s.code_version!r}\t"
                f"{s.is_source}\t{policy}\n")
        add(line + checks[key] if checks and key in checks else line)
    _LINES[:] = [defs, lines, None]
    return lines


def _digests(defs: Definitions) -> list[int]:
    """Each asset's line (``_asset_lines``) as a 63-bit number, kept in a snapshot's index."""
    lines = _asset_lines(defs)
    if _LINES[2] is None:
        blake2b, from_bytes = hashlib.blake2b, int.from_bytes
        _LINES[2] = [from_bytes(blake2b(line.encode(), digest_size=8).digest(), "big") >> 1 for line in lines]
    return _LINES[2]


_STAMP: list[str] = []


def _code_stamp() -> str:
    """Changes when any module the rows are derived with changes (an upgrade, an edit). Taken
    once per process: the code that runs is the code that was imported."""
    if _STAMP:
        return _STAMP[0]
    stamps = []
    for name in _CODE:
        path = _PACKAGE / name
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            stamps.append(f"{f.name}:{st.st_mtime_ns}:{st.st_size}")
    _STAMP.append(hashlib.blake2b(";".join(stamps).encode(), digest_size=8).hexdigest())
    return _STAMP[0]


def path_of(instance: Instance, defs_fingerprint: str) -> Path:
    return instance.home / FOLDER / f"status-{defs_fingerprint[:24]}.snap"


def holds_since(instance: Instance, mark: int) -> bool:
    """Whether the state the rows derive from is what it was at event ``mark``: nothing written
    since, or only events that change no latest fact or check result (a daemon's ticks, a run
    queued or ended without touching an asset) and no run in progress. On SQLite without
    opening the store."""
    if instance._store is None and instance.exists():
        from headwater.storage.sql.mark_probe import sqlite_state_since

        found = sqlite_state_since(instance.database_url, mark)
        if found is not None:
            last, changed, running = found
            return last == mark or (last > mark and not changed and not running)
    store = instance.store
    last = store.last_event_id()
    if last == mark:
        return True
    return (last > mark and not store.list_runs(limit=1, statuses=[RunStatus.STARTED])
            and not store.assets_changed_since(mark))


def load(instance: Instance, defs: Definitions, defs_fingerprint: str | None = None) -> StatusRows | None:
    """The stored rows when they still hold, else None; clock-bound fields evaluated now."""
    if not instance.exists():
        return None
    fp = defs_fingerprint or fingerprint(defs)
    stored = open_snapshot(path_of(instance, fp))
    if stored is None:
        return None
    header = stored.header
    try:
        mark = header.get("mark")
        if (header.get("format") == FORMAT and header.get("fingerprint") == fp and isinstance(mark, int)
                and holds_since(instance, mark)):
            summaries, starts, timed = stored.index()[:3]
            count = header.get("count")
            if isinstance(summaries, list) and len(summaries) == count and len(starts) == count + 1:
                now = instance.clock()
                found = StatusRows(summaries, stored=stored, starts=starts, timed=_evaluate(defs, summaries, timed, now))
                found.as_of = now
                return found
    except (ValueError, TypeError, OSError, KeyError, IndexError):  # damaged: computed afresh
        pass
    stored.close()
    return None


def _evaluate(defs: Definitions, summaries: list[list[Any]], timed: list[list[Any]], now: float
              ) -> dict[int, _Timed]:
    """Each policy evaluated at ``now``; the health it makes with the stored clock-free part,
    written into the summaries (``reports.SUMMARY_FIELDS``: health 2, freshness state 6)."""
    if not timed:
        return {}
    from headwater.core.health import HealthBasis, health_at

    graph = defs.graph
    keys = graph.keys
    spec_of = graph.spec
    out: dict[int, _Timed] = {}
    for i, data_time, basis in timed:
        key = keys[i]
        summary = summaries[i]
        policy = spec_of(key).freshness
        if summary[0] != key._str or policy is None:
            raise ValueError("a snapshot of other definitions")
        fresh = policy.evaluate(data_time, now)
        health, reasons = health_at(HealthBasis.from_data(basis), fresh)
        summary[2] = health.value
        summary[6] = fresh.state.value
        out[i] = (health.value, reasons, fresh)
    return out


def compute(instance: Instance, defs: Definitions, defs_fingerprint: str | None = None, keep: bool = True) -> StatusRows:
    """Every row computed from the store; stored for the next process when ``keep`` and
    the rows are snapshot material (``eligible``, no run in progress).

    One asset at a time, upstream first: its health derived, its row encoded and written to
    a file (the snapshot's body when stored, else an unnamed temporary file), then dropped;
    the rows are read back from that file as a stored snapshot's are (``status --json``
    copies it to its output in the kernel). 100,000 assets' rows are ~280 MB of JSON and
    their healths as much again: holding them all took 2 GB. Only the short summaries stay,
    and each status until the last row that reads it (``_Handed``). The state is read for
    this one computation (``Instance.statuses(once=True)``: the latest materializations as
    their stored summaries, nothing decoded whole or kept for a next read). Where no file can
    be written (a full disk), the rows are kept in memory instead."""
    from headwater.core.health import each_health
    from headwater.core.root_counts import root_cause_counts
    from headwater.gc_pause import paused_gc

    def state() -> tuple[dict[Any, Any], Any, dict[Any, int]]:
        statuses = instance.statuses(defs, once=True)  # nothing decoded whole, nothing kept: see there
        results = instance.with_partition_checks(defs, statuses, instance.reads.latest_check_results())
        return statuses, results, root_cause_counts(statuses)  # of every stale asset, and only those

    with paused_gc():  # a graph's statuses are acyclic objects: a collection would only rescan them
        mark = instance.reads.last_event_id()  # before reading: a write meanwhile moves it past the key
        running = instance.run_in_progress()
        statuses, results, counts = state()
        now = instance.clock()
        store = keep and not running and eligible(defs)
        fp = (defs_fingerprint or fingerprint(defs)) if store else ""
        handed = False
        for path in ([path_of(instance, fp)] if store else []) + [None]:
            try:
                draft = SnapshotDraft(path.parent if path is not None else None)
            except OSError:
                continue
            if handed:  # to an attempt that failed, which forgot them: read again
                statuses, results, counts = state()
            handed = True
            try:
                healths = each_health(defs.graph, _Handed(statuses), defs.check_specs, results,  # type: ignore[arg-type]
                                      now)
                summaries, starts, timed, evaluated = _stream_rows(defs, healths, counts, path is not None, draft.write)
                found = draft.finish(path, _header(fp, mark, len(summaries)),
                                     [summaries, starts, timed, _digests(defs) if path is not None else []])
            except OSError:
                draft.discard()
                continue
            if path is not None:
                prune(instance.home / FOLDER, "status-*.snap", KEEP)
            return StatusRows(summaries, stored=found, starts=starts, timed=evaluated, from_snapshot=False)
        if handed:
            statuses, results, counts = state()
        import orjson

        from headwater.reports import health_to_dict, row_summary

        summaries, rows = [], []
        for h in each_health(defs.graph, statuses, defs.check_specs, results, now):
            row = health_to_dict(h, defs.graph, counts.get(h.key, 0))
            summaries.append(row_summary(row))
            rows.append(orjson.dumps(row))
        return StatusRows(summaries, rows)


class _Handed:
    """``statuses`` handed out once, in order, each forgotten by the mapping as it goes (what
    ``each_health`` reads: ``items()``): once its row is written, a status is held only by
    the stale children still to come whose root causes it leads to, so a graph's statuses
    (their materializations, causes and texts) are freed along the way, not all held to
    the last row."""

    __slots__ = ("_statuses",)

    def __init__(self, statuses: dict[Any, Any]) -> None:
        self._statuses = statuses

    def items(self) -> Iterator[tuple[Any, Any]]:
        statuses = self._statuses
        for key in list(statuses):
            yield key, statuses.pop(key)


def _stream_rows(defs: Definitions, healths: Iterable[Any], counts: dict[Any, int], store: bool,
                 write: Callable[[bytes], Any]) -> tuple[list[list[Any]], list[int], list[list[Any]], dict[int, _Timed]]:
    """Each health's row, as ``_build_rows`` makes it (as stored when ``store``), written as a
    document (``DocumentWriter``) as it comes; the summaries, where each row begins, the
    clock-bound entries of the index, and the clock-bound fields of those rows as derived now."""
    import orjson

    from headwater.core.health import health_basis
    from headwater.reports import health_to_dict, row_summary

    graph = defs.graph
    spec_of = graph.spec
    summaries: list[list[Any]] = []
    timed: list[list[Any]] = []
    evaluated: dict[int, _Timed] = {}
    document = DocumentWriter(write)
    add, dumps = document.add, orjson.dumps
    for i, h in enumerate(healths):
        key = h.key
        row = health_to_dict(h, graph, counts.get(key, 0))
        summaries.append(row_summary(row))
        if store and spec_of(key).freshness is not None:
            add(_split(row))
            timed.append([i, h.status.data_time, health_basis(h.status, h.checks).to_data()])
            evaluated[i] = (h.health.value, h.reasons, h.freshness)
        else:
            add(dumps(row))
        h.status.forget_summary()  # read once here: see there
    document.close()
    return summaries, document.starts, timed, evaluated


def _header(fp: str, mark: int, count: int) -> dict[str, Any]:
    return {"format": FORMAT, "fingerprint": fp, "code": _code_stamp(), "mark": mark, "count": count,
            "pid": os.getpid()}


def status_rows(instance: Instance, defs: Definitions) -> StatusRows:
    """Every asset's row: the stored ones when they hold, else computed (and stored)."""
    if eligible(defs):
        fp = fingerprint(defs)
        found = load(instance, defs, fp)
        if found is not None:
            return found
        from headwater.service.status_refresh import refreshed

        found = refreshed(instance, defs, fp, rebase=True)  # written since, or edited: brought up to date
        if found is not None:
            return found
        return compute(instance, defs, fp)
    return compute(instance, defs, keep=False)
