"""``headwater status``'s stored rows brought up to date from the rows of a previous snapshot.

Deriving every row costs a whole graph's state (``status_snapshot.compute``); after a write
or an edit, most rows cannot have changed. An asset's row depends on its own line of the
definitions (``status_snapshot._asset_lines``), its latest facts and check results, and its
ancestors' (staleness and root causes flow down), nothing else: its freshness, the only
part that moves with the clock, is evaluated by whoever reads it. So the rows of the assets
for which none of those changed are taken from the previous snapshot as they are, copied
file to file by the kernel in stretches (never parsed, never through Python), and only the
others are derived again, from the statuses of just them and their ancestors.

The previous snapshot is the one of these definitions (a run's process after it wrote; a
``status`` that finds it older than the store) or, for a ``status`` after an edit, the newest
of other definitions written by this same Headwater (``rebase``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.service.status_rows import DocumentWriter, StatusRows, _split
from headwater.service.status_snapshot import (
    FOLDER,
    FORMAT,
    KEEP,
    _code_stamp,
    _digests,
    _evaluate,
    _header,
    eligible,
    fingerprint,
    holds_since,
    path_of,
)
from headwater.storage.snapshot_files import OpenSnapshot, SnapshotDraft, open_snapshot, prune

if TYPE_CHECKING:
    from headwater.definitions.definitions import Definitions
    from headwater.service.instance import Instance


def refresh(instance: Instance, defs: Definitions, defs_fingerprint: str | None = None) -> bool:
    """After a write (by this process: a run that ended, checks, observations): store the rows
    again when a snapshot of these definitions is there to keep current (someone reads
    ``status``); whether it did. Never fails the caller: a snapshot is an optimisation, and
    the next ``status`` computes afresh anyway."""
    found = refreshed(instance, defs, defs_fingerprint)
    if found is None:
        return False
    found.close()
    return True


def refreshed(instance: Instance, defs: Definitions, defs_fingerprint: str | None = None,
              rebase: bool = False) -> StatusRows | None:
    """The rows brought up to date from the snapshot of these definitions, stored and open for
    reading (clock-bound fields evaluated now, as ``status_snapshot.load`` gives them); None
    when there is nothing to bring up to date or it fails.

    Derived again: the assets whose latest facts or check results changed since that
    snapshot's mark (whoever wrote them: ``assets_changed_since``) and everything downstream.
    ``rebase`` (a ``status`` reader): with no snapshot of these definitions, the newest of
    other definitions (the code before an edit, another branch) serves the same way, the
    assets whose own line changed (a code version, deps, group, labels, policy, checks; new
    assets) counted as changed too, unless that is most of the graph; and where nothing can be
    reused (another format, a damaged file), None: the reader computes every row itself
    (``compute`` streams them, holding less)."""
    if not eligible(defs):
        return None
    if defs_fingerprint is None and not any((instance.home / FOLDER).glob("status-*.snap")):
        return None  # no status read in this home: not even the fingerprint is worth taking
    fp = defs_fingerprint or fingerprint(defs)
    previous = open_snapshot(path_of(instance, fp))
    if previous is None and rebase:
        previous = _newest_other(instance, fp)
    if previous is None:
        return None  # nobody reads `status` of these definitions (yet): no work for them
    from headwater.gc_pause import paused_gc

    try:
        with paused_gc():  # tens of thousands of acyclic objects: a collection would only rescan them
            mark = instance.reads.last_event_id()  # before reading, as in ``compute``
            if instance.run_in_progress():
                return None
            reuse = _reusable(instance, defs, previous, fp, mark)
            graph = defs.graph
            if reuse is None and rebase:
                return None  # nothing to reuse: the reader computes (``compute`` streams, holding less)
            if reuse is not None and previous.header.get("fingerprint") != fp and 2 * len(reuse.changed) > len(graph):
                return None
            needed = None if reuse is None else reuse.changed | graph.upstream(reuse.changed)
            statuses = instance.statuses(defs, once=True, only=needed)
            healths = _healths(instance, defs, statuses, None if reuse is None else reuse.changed)
            return _written(instance, defs, fp, mark, statuses, healths, reuse)
    except Exception:  # noqa: BLE001 - see ``refresh``
        return None
    finally:
        previous.close()


def _newest_other(instance: Instance, fp: str) -> OpenSnapshot | None:
    """The snapshot of other definitions with the highest mark written by this Headwater's
    code, to reuse rows from; None when there is none."""
    best: OpenSnapshot | None = None
    own = path_of(instance, fp)
    for path in (instance.home / FOLDER).glob("status-*.snap"):
        if path == own:
            continue
        found = open_snapshot(path)
        if found is None:
            continue
        header = found.header
        mark = header.get("mark")
        if (header.get("format") != FORMAT or header.get("code") != _code_stamp() or not isinstance(mark, int)
                or (best is not None and best.header["mark"] >= mark)):
            found.close()
            continue
        if best is not None:
            best.close()
        best = found
    return best


def keep(instance: Instance, defs: Definitions, mark: int, healths: dict[Any, Any],
         defs_fingerprint: str | None = None) -> bool:
    """Store the rows of health the caller derived for every asset from the store as it was
    at event ``mark`` (``headwater ui``'s snapshot: the next UI, and ``status``, start from it),
    unless a snapshot at least as new is there; whether it did.

    The caller read the state earlier without saying whether a run was in progress then, so
    the rows are stored only while no run is and that state still holds (``holds_since``):
    a run that was in progress has written since. Rows of a previous snapshot are reused as
    ``refreshed`` reuses them; the rest are written from ``healths``. Never fails the caller."""
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
            if instance.run_in_progress() or not holds_since(instance, mark):
                return False
            statuses = {k: h.status for k, h in healths.items()}
            reuse = None if previous is None else _reusable(instance, defs, previous, fp, mark)
            _written(instance, defs, fp, mark, statuses, healths, reuse).close()
        return True
    except Exception:  # noqa: BLE001 - a snapshot is an optimisation (see ``refresh``)
        return False
    finally:
        if previous is not None:
            previous.close()


@dataclass(frozen=True, slots=True)
class _Reuse:
    """What a refresh takes from a previous snapshot (``snapshot``, kept open): where each
    asset's row was (``position`` by its key's text) and where rows begin in its body
    (``starts``), its summaries and clock-bound entries by position; and which assets must be
    derived again."""

    changed: set[Any]
    snapshot: OpenSnapshot
    position: dict[str, int]
    starts: list[int]
    summaries: list[list[Any]]
    timed: dict[int, list[Any]]


def _reusable(instance: Instance, defs: Definitions, previous: OpenSnapshot, fp: str, mark: int) -> _Reuse | None:
    """The previous snapshot's parts, when it was written by this code and is not newer than
    ``mark`` (the state just read); else None (everything is derived). Of other definitions
    (``fp`` differs), the assets whose line changed count as changed (``refreshed``)."""
    header = previous.header
    graph = defs.graph
    keys = graph.keys
    old_mark = header.get("mark")
    count = header.get("count")
    same = header.get("fingerprint") == fp
    if (header.get("format") != FORMAT or header.get("code") != _code_stamp() or not isinstance(count, int)
            or (same and count != len(keys)) or not isinstance(old_mark, int) or old_mark > mark):
        return None
    try:
        summaries, starts, timed, digests = previous.index()
    except (ValueError, TypeError, OSError):
        return None
    if (len(summaries) != count or len(starts) != count + 1 or starts[-1] != header["body_size"] - 1
            or (same and any(s[0] != k._str for s, k in zip(summaries, keys)))
            or (not same and len(digests) != count)):
        return None
    position = {s[0]: i for i, s in enumerate(summaries)}
    changed = {k for k in instance.reads.assets_changed_since(old_mark) if k in graph}
    if not same:
        changed.update(k for k, d in zip(keys, _digests(defs))
                       if (at := position.get(k._str)) is None or digests[at] != d)
    return _Reuse(changed | graph.downstream(changed), previous, position, starts, summaries,
                  {t[0]: t for t in timed})


def _healths(instance: Instance, defs: Definitions, statuses: dict[Any, Any], only: set[Any] | None
             ) -> dict[Any, Any]:
    """The health of the assets in ``only`` (all when None), as ``Instance.healths`` derives it."""
    from headwater.core.health import assess

    chosen = statuses if only is None else {k: st for k, st in statuses.items() if k in only}
    results = instance.with_partition_checks(defs, statuses, instance.reads.latest_check_results())
    return assess(defs.graph, chosen, defs.check_specs, results, instance.clock())


def _written(instance: Instance, defs: Definitions, fp: str, mark: int, statuses: dict[Any, Any],
             healths: dict[Any, Any], reuse: _Reuse | None) -> StatusRows:
    """Every asset's row stored as the snapshot of ``fp`` at ``mark``, and open for reading:
    the reused ones copied from the previous snapshot in stretches of consecutive rows, the
    others written from ``healths``. ``statuses``: of every asset not reused and its ancestors
    (root causes are counted through them). Raises ``OSError`` when the disk refuses."""
    import orjson

    from headwater.core.health import health_basis
    from headwater.core.root_counts import root_cause_counts
    from headwater.reports import health_to_dict, row_summary

    graph = defs.graph
    spec_of = graph.spec
    wanted = [k for k, st in statuses.items() if st.stale and (reuse is None or k in reuse.changed)]
    counts = root_cause_counts(statuses, wanted) if wanted else {}
    path = path_of(instance, fp)
    draft = SnapshotDraft(path.parent)
    document = DocumentWriter(draft.write)
    summaries: list[list[Any]] = []
    timed: list[list[Any]] = []
    stretch = [0, 0]  # the previous snapshot's rows [from, to) still to copy

    def copy_stretch() -> None:
        begin, end = stretch
        if begin < end:
            assert reuse is not None
            starts = reuse.starts
            document.add_copied([starts[i + 1] - starts[i] - 2 for i in range(begin, end)],
                                lambda: draft.copy_from(reuse.snapshot, starts[begin], starts[end] - 2))
        stretch[:] = [0, 0]

    try:
        for i, key in enumerate(graph.keys):
            if reuse is not None and key not in reuse.changed:
                at = reuse.position[key._str]
                if at != stretch[1] or stretch[0] == stretch[1]:
                    copy_stretch()
                    stretch[0] = at
                stretch[1] = at + 1
                summaries.append(reuse.summaries[at])
                entry = reuse.timed.get(at)
                if entry is not None:
                    timed.append([i, entry[1], entry[2]])
                continue
            copy_stretch()
            h = healths[key]
            row = health_to_dict(h, graph, counts.get(key, 0))
            summaries.append(row_summary(row))
            if spec_of(key).freshness is not None:
                document.add(_split(row))
                timed.append([i, h.status.data_time, health_basis(h.status, h.checks).to_data()])
            else:
                document.add(orjson.dumps(row))
        copy_stretch()
        document.close()
        found = draft.finish(path, _header(fp, mark, len(summaries)), [summaries, document.starts, timed, _digests(defs)])
    except BaseException:
        draft.discard()
        raise
    prune(instance.home / FOLDER, "status-*.snap", KEEP)
    now = instance.clock()
    rows = StatusRows(summaries, stored=found, starts=document.starts, timed=_evaluate(defs, summaries, timed, now))
    rows.as_of = now
    return rows
