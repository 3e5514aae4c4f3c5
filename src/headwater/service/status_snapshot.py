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
(someone reads ``status``), it brings it up to date (``refresh``), so the ``status`` typed
next prints stored rows. A ``status`` that finds the snapshot older than the store (a write
by any other process) does the same before printing. Either way only the rows of the assets
whose latest facts or check results changed since the snapshot's mark, and of everything
downstream of them, are derived again; the others are copied.

**Read by ``headwater ui`` too.** A UI's first ``/api/assets`` sends these rows (bounded as
the API bounds them, ``web/row_bounds.py``) while no state has been derived in its process,
so a UI started right after a run answers from what the run's process kept. A UI that
derived every asset's health itself stores it here (``keep``) for the next process.

The rows are ``reports.health_to_dict``'s, encoded one by one; beside each, the short
summary (``reports.row_summary``) that the table and the filters read. One file per
definitions fingerprint in ``<home>/snapshots/`` (``storage/snapshot_files.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.core.events import RunStatus
from headwater.service.status_rows import (
    DocumentWriter,
    StatusRows,
    _split,
    _Timed,
    document_pieces,
    starts_of,
)
from headwater.storage.snapshot_files import OpenSnapshot, SnapshotDraft, open_snapshot, prune, write_snapshot

if TYPE_CHECKING:
    from headwater.definitions.definitions import Definitions
    from headwater.service.instance import Instance

FORMAT = 4  # 4: rows list their causes as {kind, key, dep}, bounded, with stale_cause_count
FOLDER = "snapshots"
KEEP = 3  # snapshots of the newest definitions versions kept (switching branches back and forth)
_PACKAGE = Path(__file__).resolve().parent.parent
# The code the rows are derived with: status and health (core), the rows (reports), this.
_CODE = ("core", "reports.py", "service/status_snapshot.py", "service/status_rows.py", "service/instance.py",
         "storage/sql/latest.py", "storage/sql/codec.py", "storage/sql/checks.py")


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
    graph = defs.graph
    spec_of = graph.spec
    parts = []
    add = parts.append
    for key in graph.keys:
        s = spec_of(key)
        # most specs have no kinds, owners or tags: one test instead of three sorts
        labels = f"{sorted(s.kinds)}{s.owners}{sorted(s.tags.items())}" if s.kinds or s.owners or s.tags else ""
        policy = _policy_text(s.freshness) if s.freshness is not None else ""
        add(f"{key._str}\t{','.join([d._str for d in s.deps])}\t{s.group}\t{labels}\t{s.code_version!r}\t"
            f"{s.is_source}\t{policy}\n")
    for c in defs.check_specs:
        parts.append(f"check\t{c.asset._str}\t{c.name}\t{c.severity}\t{c.blocking}\n")
    digest.update("".join(parts).encode())
    return digest.hexdigest()


def _code_stamp() -> str:
    """Changes when any module the rows are derived with changes (an upgrade, an edit)."""
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
    return hashlib.blake2b(";".join(stamps).encode(), digest_size=8).hexdigest()


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
            summaries, starts, timed = stored.index()
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
    their healths as much again: holding them all took 2 GB. Only the statuses (each row
    reads its parents') and the short summaries stay. Where no file can be written (a full
    disk), the rows are kept in memory instead."""
    from headwater.core.health import each_health
    from headwater.core.root_counts import root_cause_counts
    from headwater.gc_pause import paused_gc

    with paused_gc():  # a graph's statuses are acyclic objects: a collection would only rescan them
        mark = instance.store.last_event_id()  # before reading: a write meanwhile moves it past the key
        running = bool(instance.store.list_runs(limit=1, statuses=[RunStatus.STARTED]))
        statuses = instance.statuses(defs)
        results = instance.with_partition_checks(defs, statuses, instance.store.latest_check_results())
        now = instance.clock()
        stale = [k for k, st in statuses.items() if st.stale]
        counts = root_cause_counts(statuses, stale) if stale else {}
        store = keep and not running and eligible(defs)
        fp = (defs_fingerprint or fingerprint(defs)) if store else ""
        for path in ([path_of(instance, fp)] if store else []) + [None]:
            try:
                draft = SnapshotDraft(path.parent if path is not None else None)
            except OSError:
                continue
            try:
                healths = each_health(defs.graph, statuses, defs.check_specs, results, now)
                summaries, starts, timed, evaluated = _stream_rows(defs, healths, counts, path is not None, draft.write)
                found = draft.finish(path, {"format": FORMAT, "fingerprint": fp, "mark": mark, "count": len(summaries),
                                            "pid": os.getpid()}, [summaries, starts, timed])
            except OSError:
                draft.discard()
                continue
            if path is not None:
                prune(instance.home / FOLDER, "status-*.snap", KEEP)
            return StatusRows(summaries, stored=found, starts=starts, timed=evaluated, from_snapshot=False)
        healths = {h.key: h for h in each_health(defs.graph, statuses, defs.check_specs, results, now)}
        summaries, rows, _, _ = _build_rows(defs, statuses, healths, False, None)
        return StatusRows(summaries, rows)


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


def refresh(instance: Instance, defs: Definitions, defs_fingerprint: str | None = None) -> bool:
    """After a write (by this process: a run that ended, checks, observations; or found by a
    ``status`` whose snapshot no longer holds): store the rows again when a snapshot of these
    definitions is there to keep current (someone reads ``status``); whether it did.

    Rows are reused from that snapshot, and only those that can differ are derived again:
    the assets whose latest facts or check results changed since its mark (whoever wrote
    them: ``assets_changed_since``) and everything downstream of them (staleness and root
    causes flow down). The rest depends on nothing that changed: not its own facts, not its
    checks, not an ancestor's status (its freshness is evaluated by the reader). Never fails
    the caller: a snapshot is an optimisation, and the next ``status`` computes afresh anyway."""
    if not eligible(defs):
        return False
    if defs_fingerprint is None and not any((instance.home / FOLDER).glob("status-*.snap")):
        return False  # no status read in this home: not even the fingerprint is worth taking
    fp = defs_fingerprint or fingerprint(defs)
    previous = open_snapshot(path_of(instance, fp))
    if previous is None:
        return False  # nobody reads `status` of these definitions (yet): no work for them
    from headwater.gc_pause import paused_gc

    try:
        with paused_gc():  # tens of thousands of acyclic objects: a collection would only rescan them
            mark = instance.store.last_event_id()  # before reading, as in ``compute``
            if instance.store.list_runs(limit=1, statuses=[RunStatus.STARTED]):
                return False
            statuses = instance.statuses(defs)  # every one: root causes flow down from anywhere above
            reuse = _reusable(instance, defs, previous, fp, mark)
            healths = _healths(instance, defs, statuses, None if reuse is None else reuse.changed)
            summaries, _, stored_rows, timed = _build_rows(defs, statuses, healths, True, reuse)
            _write(instance, fp, mark, summaries, stored_rows, timed)
        return True
    except Exception:  # noqa: BLE001 - see the docstring
        return False
    finally:
        previous.close()


def keep(instance: Instance, defs: Definitions, mark: int, healths: dict[Any, Any],
         defs_fingerprint: str | None = None) -> bool:
    """Store the rows of health the caller derived for every asset from the store as it was
    at event ``mark`` (``headwater ui``'s snapshot: the next UI, and ``status``, start from it),
    unless a snapshot at least as new is there; whether it did.

    The caller read the state earlier without saying whether a run was in progress then, so
    the rows are stored only while no run is and that state still holds (``holds_since``):
    a run that was in progress has written since. Rows of a previous snapshot are reused as
    ``refresh`` reuses them; the rest are written from ``healths``. Never fails the caller."""
    if not eligible(defs):
        return False
    fp = defs_fingerprint or fingerprint(defs)
    previous = open_snapshot(path_of(instance, fp))
    try:
        header = previous.header if previous is not None else {}
        old_mark = header.get("mark")
        if (header.get("format") == FORMAT and header.get("fingerprint") == fp and isinstance(old_mark, int)
                and old_mark >= mark):
            return False  # kept already (by a run's process, or by this caller at the same mark)
        from headwater.gc_pause import paused_gc

        with paused_gc():
            if (instance.store.list_runs(limit=1, statuses=[RunStatus.STARTED])
                    or not holds_since(instance, mark)):
                return False
            statuses = {k: h.status for k, h in healths.items()}
            reuse = None if previous is None else _reusable(instance, defs, previous, fp, mark)
            summaries, _, stored_rows, timed = _build_rows(defs, statuses, healths, True, reuse)
            _write(instance, fp, mark, summaries, stored_rows, timed)
        return True
    except Exception:  # noqa: BLE001 - a snapshot is an optimisation (see ``refresh``)
        return False
    finally:
        if previous is not None:
            previous.close()


class _Reuse:
    """What a refresh takes from the previous snapshot: every asset's stored row, summary and
    clock-bound entry by position, and which assets must be derived again."""

    __slots__ = ("changed", "summaries", "rows", "timed")

    def __init__(self, changed: set[Any], summaries: list[list[Any]], rows: list[Any],
                 timed: dict[int, list[Any]]) -> None:
        self.changed = changed
        self.summaries = summaries
        self.rows = rows
        self.timed = timed


def _reusable(instance: Instance, defs: Definitions, previous: OpenSnapshot, fp: str, mark: int) -> _Reuse | None:
    """The previous snapshot's parts, when it is of these definitions and not newer than
    ``mark`` (the state just read); else None (everything is derived)."""
    header = previous.header
    graph = defs.graph
    keys = graph.keys
    old_mark = header.get("mark")
    if (header.get("format") != FORMAT or header.get("fingerprint") != fp or header.get("count") != len(keys)
            or not isinstance(old_mark, int) or old_mark > mark):
        return None
    try:
        summaries, starts, timed = previous.index()
        body = memoryview(previous.body())  # each row a slice of it, none copied
    except (ValueError, TypeError, OSError):
        return None
    if (len(summaries) != len(keys) or len(starts) != len(keys) + 1 or starts[-1] != len(body) - 1
            or any(s[0] != k._str for s, k in zip(summaries, keys))):
        return None
    rows = [body[starts[i]:starts[i + 1] - 2] for i in range(len(keys))]
    changed = {k for k in instance.store.assets_changed_since(old_mark) if k in graph}
    return _Reuse(changed | graph.downstream(changed), summaries, rows, {t[0]: t for t in timed})


def _healths(instance: Instance, defs: Definitions, statuses: dict[Any, Any], only: set[Any] | None
             ) -> dict[Any, Any]:
    """The health of the assets in ``only`` (all when None), as ``Instance.healths`` derives it."""
    from headwater.core.health import assess

    chosen = statuses if only is None else {k: st for k, st in statuses.items() if k in only}
    results = instance.with_partition_checks(defs, statuses, instance.store.latest_check_results())
    return assess(defs.graph, chosen, defs.check_specs, results, instance.clock())


def _build_rows(defs: Definitions, statuses: dict[Any, Any], healths: dict[Any, Any], store: bool,
                reuse: _Reuse | None) -> tuple[list[list[Any]], list[bytes], list[bytes], list[list[Any]]]:
    """Summaries, whole rows (none when reusing: only what is stored is needed), the rows as
    stored (``_split`` where a freshness policy makes fields clock-bound), and the clock-bound
    entries ``[position, data time, health basis]``. ``healths`` of every asset not reused."""
    import orjson

    from headwater.core.health import health_basis
    from headwater.core.root_counts import root_cause_counts
    from headwater.reports import health_to_dict, row_summary

    wanted = [k for k, st in statuses.items() if st.stale and (reuse is None or k in reuse.changed)]
    counts = root_cause_counts(statuses, wanted) if wanted else {}
    graph = defs.graph
    spec_of = graph.spec
    summaries: list[list[Any]] = []
    rows: list[bytes] = []
    stored_rows: list[bytes] = []
    timed: list[list[Any]] = []
    for i, key in enumerate(statuses):
        if reuse is not None and key not in reuse.changed:
            summaries.append(reuse.summaries[i])
            stored_rows.append(reuse.rows[i])
            entry = reuse.timed.get(i)
            if entry is not None:
                timed.append(entry)
            continue
        h = healths[key]
        row = health_to_dict(h, graph, counts.get(key, 0))
        summaries.append(row_summary(row))
        clocked = store and spec_of(key).freshness is not None
        whole = orjson.dumps(row) if reuse is None or not clocked else b""
        if reuse is None:
            rows.append(whole)
        if store:
            if clocked:
                stored_rows.append(_split(row))
                timed.append([i, h.status.data_time, health_basis(h.status, h.checks).to_data()])
            else:
                stored_rows.append(whole)
    return summaries, rows, stored_rows, timed


def _write(instance: Instance, fp: str, mark: int, summaries: list[list[Any]], stored_rows: list[bytes],
           timed: list[list[Any]]) -> None:
    write_snapshot(path_of(instance, fp), {"format": FORMAT, "fingerprint": fp, "mark": mark,
                                           "count": len(stored_rows), "pid": os.getpid()},
                   [summaries, starts_of(stored_rows), timed], document_pieces(stored_rows))
    prune(instance.home / FOLDER, "status-*.snap", KEEP)


def status_rows(instance: Instance, defs: Definitions) -> StatusRows:
    """Every asset's row: the stored ones when they hold, else computed (and stored)."""
    if eligible(defs):
        fp = fingerprint(defs)
        found = load(instance, defs, fp)
        if found is not None:
            return found
        if refresh(instance, defs, fp):  # written since: brought up to date, not rebuilt
            found = load(instance, defs, fp)
            if found is not None:
                return found
        return compute(instance, defs, fp)
    return compute(instance, defs, keep=False)
