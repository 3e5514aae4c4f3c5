"""Launching partitions from the UI: this partition, these keys, a range, or only the missing
or failed ones — shared by the JSON API and the plain HTML forms.

The partitions are resolved against the asset's definition and the current status when the
request comes, so "materialize missing" builds exactly what the page showed as missing; the
run carries them (one key or a range as the usual run tags, any other set as the exact
targets a backfill's run carries), so its worker plans exactly those, and, with
``downstream``, the downstream partitions that read them through their mappings.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.core.partition_status import PartitionSet
from headwater.core.partitions import MultiPartitions, PartitionError
from headwater.core.records import RunRecord
from headwater.errors import HeadwaterError
from headwater.web.context import WebContext
from headwater.web.partition_strip import build_strip
from headwater.web.partition_view import matching, parse_states, partitioned

ONLY = ("missing", "failed", "stale")


def choose(ctx: WebContext, key_text: str, keys: Sequence[str] = (), start: str | None = None,
           end: str | None = None, only: str | None = None) -> tuple[str, list[str], dict[str, object]]:
    """(the exact key, the partitions to build, ``enqueue``'s partition arguments); a bad key,
    range or state is a one-line error naming it, and nothing is queued."""
    key, d, _st, pset = partitioned(ctx, key_text)
    pctx = ctx.instance.partition_context(ctx.defs)
    states = parse_states(only)
    for s in states:
        if s not in ONLY:
            raise HeadwaterError(f"only={s!r}: launch only missing, failed or stale partitions")
    keys = [k.strip() for k in dict.fromkeys(keys) if k.strip()]
    if keys and (start or end):
        raise HeadwaterError("give partition keys or a range (from/to), not both")
    if keys:
        for k in keys:
            d.validate_key(k, pctx, key)
        chosen = keys
    elif start or end:
        try:
            chosen = list(d.key_range(start or None, end or None, pctx, key))
        except PartitionError:
            if not isinstance(d, MultiPartitions):
                raise
            # The strip's columns (the first dimension when none is time): what a zoomed page sends.
            drawn = build_strip(str(key), d, pset.keys, pset.statuses, pctx, start, end)
            chosen = drawn.in_range if drawn.in_range is not None else list(pset.keys)
    elif states:
        chosen = list(pset.keys)
    else:
        raise HeadwaterError(f"say which partitions of {key} to materialize: keys, a range (from/to), "
                             "or only=missing|failed")
    if states:
        chosen = _only(pset, chosen, states)
        if not chosen:
            where = " in that range" if (start or end or keys) else ""
            raise HeadwaterError(f"no partition of {key} is {' or '.join(states)}{where}: nothing to materialize")
    if len(chosen) == 1:
        args: dict[str, object] = {"partition": chosen[0]}
    elif not states and not keys:
        args = {"partition_range": (start or None, end or None)}
    elif not states:
        args = {"partition": chosen}
    else:
        args = {"targets": {key: tuple(chosen)}}
    return str(key), chosen, args


def _only(pset: PartitionSet, chosen: list[str], states: Sequence[str]) -> list[str]:
    wanted = set(matching(pset, states))
    return [k for k in chosen if k in wanted]


def materialize_partitions(ctx: WebContext, key_text: str, keys: Sequence[str] = (), start: str | None = None,
                           end: str | None = None, only: str | None = None,
                           downstream: bool = False) -> tuple[RunRecord, list[str]]:
    """Queue a run of the chosen partitions (and, with ``downstream``, what reads them)."""
    key, chosen, args = choose(ctx, key_text, keys, start, end, only)
    selection = f'"{key}"' + ("+" if downstream else "")
    record = ctx.launcher.submit(ctx.defs, selection, tags={"headwater/ui_action": "materialize_partitions"},
                                 **args)
    ctx.cache.invalidate()
    return record, chosen
