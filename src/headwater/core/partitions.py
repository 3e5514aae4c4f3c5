"""Partitions: the slices an asset is built in — time windows, fixed keys, keys added at run
time, and any number of dimensions of those (DESIGN.md §5).

A partitions definition is plain data (it travels between processes with the spec); the
keys it has depend on the clock (a daily definition grows a key every day) and, for dynamic
ones, on facts in the store. Both come in through a ``PartitionContext``, so the keys are a
pure function of (definition, context). A context remembers the keys it computed: a status
pass asks for the keys of the same definition once per asset.

Time windows follow wall-clock time in their zone through ``core/cron.py``: a day in
Europe/Berlin is 23 or 25 hours around daylight saving time, and its key is its local date.
Keys of several dimensions are joined with ``|`` in the declared order of the dimensions
(``2026-03-04|eu``); the addressing syntax ``asset[key]`` is shared by the CLI, the API,
selection and ``why`` (``parse_partitioned_key``).
"""

from __future__ import annotations

import bisect
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from headwater.core.cron import Cron, _instant
from headwater.core.keys import AssetKey
from headwater.errors import DefinitionError, HeadwaterError

DIMENSION_SEPARATOR = "|"
_KEY_TEXT = re.compile(r"^[^\[\]|,\s][^\[\]|,]*$")


class PartitionError(HeadwaterError):
    """A partition key or range that the asset's definition does not have."""


class PartitionContext:
    """What the keys of a definition depend on besides the definition: the clock and the
    stored dynamic keys. Caches the keys it computed (a status pass asks per asset)."""

    __slots__ = ("now", "dynamic", "_keys", "_index")

    def __init__(self, now: float, dynamic: Mapping[str, Sequence[str]] | None = None) -> None:
        self.now = now
        self.dynamic = {name: tuple(keys) for name, keys in (dynamic or {}).items()}
        self._keys: dict[PartitionsDefinition, tuple[str, ...]] = {}
        self._index: dict[PartitionsDefinition, dict[str, int]] = {}

    def keys(self, definition: PartitionsDefinition) -> tuple[str, ...]:
        found = self._keys.get(definition)
        if found is None:
            found = self._keys[definition] = definition.compute_keys(self)
        return found

    def index(self, definition: PartitionsDefinition) -> dict[str, int]:
        """Position of every key, in the definition's order (time order for windows)."""
        found = self._index.get(definition)
        if found is None:
            found = self._index[definition] = {k: i for i, k in enumerate(self.keys(definition))}
        return found


class PartitionsDefinition(ABC):
    """The set of partition keys an asset has. Subclasses are frozen dataclasses."""

    @abstractmethod
    def compute_keys(self, ctx: PartitionContext) -> tuple[str, ...]:
        """Every key, in order (time order for windows); use ``ctx.keys(self)``, which caches."""

    @property
    def dimensions(self) -> tuple[tuple[str, PartitionsDefinition], ...]:
        """(name, definition) per dimension; a one-dimensional definition is its own."""
        return (("", self),)

    def describe(self) -> str:
        return type(self).__name__

    def validate_key(self, key: str, ctx: PartitionContext, asset: AssetKey | str | None = None) -> None:
        """Raise a ``PartitionError`` naming the key and the asset unless the key exists now."""
        if key in ctx.index(self):
            return
        owner = f" of asset {asset}" if asset is not None else ""
        keys = ctx.keys(self)
        hint = self._hint(key, keys)
        raise PartitionError(f"unknown partition {key!r}{owner} ({self.describe()}){hint}")

    def _hint(self, key: str, keys: Sequence[str]) -> str:
        if not keys:
            return ": it has no partitions yet"
        return f": it has {len(keys)} partition(s), {keys[0]!r} … {keys[-1]!r}"

    def key_range(self, start: str | None, end: str | None, ctx: PartitionContext,
                  asset: AssetKey | str | None = None) -> tuple[str, ...]:
        """The keys from ``start`` to ``end`` inclusive, in order (either end open when None)."""
        keys = ctx.keys(self)
        index = ctx.index(self)
        lo = 0 if start is None else self._position(start, index, keys, ctx, asset, after=False)
        hi = len(keys) - 1 if end is None else self._position(end, index, keys, ctx, asset, after=True)
        if lo > hi:
            raise PartitionError(f"empty partition range {start!r} .. {end!r}"
                                 + (f" of asset {asset}" if asset is not None else ""))
        return keys[lo:hi + 1]

    def _position(self, key: str, index: Mapping[str, int], keys: Sequence[str], ctx: PartitionContext,
                  asset: AssetKey | str | None, after: bool) -> int:
        if key in index:
            return index[key]
        self.validate_key(key, ctx, asset)  # raises
        raise AssertionError  # pragma: no cover


# --- time windows -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A partition's window of time: ``[start, end)`` in POSIX seconds."""

    start: float
    end: float


_PERIODS = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 1", "monthly": "0 0 1 * *"}
_FORMATS = {"hourly": "%Y-%m-%d-%H:%M", "daily": "%Y-%m-%d", "weekly": "%Y-%m-%d", "monthly": "%Y-%m"}


@dataclass(frozen=True, slots=True)
class TimeWindowPartitions(PartitionsDefinition):
    """One partition per window between two consecutive ticks of a cron, from ``start`` on.

    ``end_offset`` counts windows past the last complete one (1 adds the window in progress;
    -1 lags a window behind); ``end``, when given, closes the definition. A key is the local
    start of its window in ``fmt``.
    """

    cron: str
    start: str
    timezone: str = "UTC"
    fmt: str = "%Y-%m-%d"
    end: str | None = None
    end_offset: int = 0
    _parsed: tuple[float, float | None] = field(default=(0.0, None), init=False, repr=False, compare=False,
                                                hash=False)

    def __post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise DefinitionError(f"partitions: unknown time zone {self.timezone!r}") from exc
        Cron(self.cron, self.timezone)  # validates the cron line
        start = _parse_time(self.start, tz, "start")
        end = _parse_time(self.end, tz, "end") if self.end is not None else None
        if end is not None and end <= start:
            raise DefinitionError(f"partitions: end {self.end!r} is not after start {self.start!r}")
        object.__setattr__(self, "_parsed", (start, end))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def describe(self) -> str:
        name = next((n for n, c in _PERIODS.items() if c == self.cron), f"cron {self.cron!r}")
        return f"{name} from {self.start} ({self.timezone})"

    def windows(self, ctx: PartitionContext) -> tuple[float, ...]:
        """Window boundaries: key i spans ``[b[i], b[i+1])``."""
        return _boundaries(self, _horizon(self, ctx.now))

    def compute_keys(self, ctx: PartitionContext) -> tuple[str, ...]:
        return _window_keys(self, _horizon(self, ctx.now))

    def window(self, key: str, ctx: PartitionContext) -> TimeWindow:
        i = ctx.index(self).get(key)
        if i is None:
            self.validate_key(key, ctx)
            raise AssertionError  # pragma: no cover
        b = self.windows(ctx)
        return TimeWindow(b[i], b[i + 1])

    def period(self) -> float:
        """A window's nominal length in seconds (for rates and lags, not arithmetic)."""
        return {"0 * * * *": 3600.0, "0 0 * * *": 86400.0, "0 0 * * 1": 7 * 86400.0,
                "0 0 1 * *": 30 * 86400.0}.get(self.cron, 86400.0)

    def _position(self, key: str, index: Mapping[str, int], keys: Sequence[str], ctx: PartitionContext,
                  asset: AssetKey | str | None, after: bool) -> int:
        if key in index:
            return index[key]
        # A range may be given as dates that are not keys themselves (a weekly asset from a day).
        try:
            t = _parse_time(key, self.zone, "bound")
        except DefinitionError:
            self.validate_key(key, ctx, asset)
            raise
        starts = self.windows(ctx)[:-1]
        if not starts or t < starts[0] or (self._parsed[1] is not None and t >= self._parsed[1]):
            owner = f" of asset {asset}" if asset is not None else ""
            raise PartitionError(f"{key!r} is outside the partitions{owner} ({self.describe()}"
                                 f"{', ' + repr(keys[0]) + ' … ' + repr(keys[-1]) if keys else ''})")
        i = bisect.bisect_right(starts, t) - 1
        if i >= len(keys):
            i = len(keys) - 1
        return i

    def windows_overlapping(self, start: float, end: float, ctx: PartitionContext) -> range:
        """Indices of the windows that overlap ``[start, end)``."""
        b = self.windows(ctx)
        if len(b) < 2:
            return range(0)
        lo = max(0, bisect.bisect_right(b, start) - 1)
        hi = bisect.bisect_left(b, end)
        return range(lo, min(hi, len(b) - 1))


def _parse_time(text: str | None, tz: ZoneInfo, what: str) -> float:
    if text is None:
        raise DefinitionError(f"partitions: {what} is required")
    for fmt in ("%Y-%m-%d", "%Y-%m-%d-%H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m"):
        try:
            wall = datetime.strptime(str(text), fmt)
        except ValueError:
            continue
        return _instant(wall, tz)
    raise DefinitionError(f"partitions: {what} {text!r} is not a date like 2026-01-01 or 2026-01-01-06:00")


_HORIZON_LIMIT = 1_000_000


def _horizon(d: TimeWindowPartitions, now: float) -> float:
    """The instant up to which windows exist at ``now``: the last tick (plus ``end_offset``
    windows), so that every ``now`` between two ticks maps to one cache entry."""
    return _cron(d.cron, d.timezone).previous(now)


@lru_cache(maxsize=256)
def _cron(cron: str, timezone: str) -> Cron:
    """A parsed cron per (line, zone): parsing one costs ~0.4 ms (croniter validates it), and a
    status pass asks for the windows of a definition once per partition that reads them."""
    return Cron(cron, timezone)


@lru_cache(maxsize=256)
def _boundaries(d: TimeWindowPartitions, last_tick: float) -> tuple[float, ...]:
    start, end = d._parsed
    ticks = _ticks(d.cron, d.timezone, start, last_tick)
    # Windows end at a tick <= now; end_offset moves the last one.
    if d.end_offset > 0:
        extra = _ticks_after(d.cron, d.timezone, ticks[-1] if ticks else start, d.end_offset)
        ticks = ticks + extra
    elif d.end_offset < 0:
        ticks = ticks[:max(0, len(ticks) + d.end_offset)]
    if end is not None:
        ticks = tuple(t for t in ticks if t <= end)
    if len(ticks) > _HORIZON_LIMIT:
        raise DefinitionError(f"partitions: {d.describe()} has more than {_HORIZON_LIMIT} windows")
    return ticks


@lru_cache(maxsize=256)
def _window_keys(d: TimeWindowPartitions, last_tick: float) -> tuple[str, ...]:
    b = _boundaries(d, last_tick)
    tz = d.zone
    fmt = d.fmt
    return tuple(datetime.fromtimestamp(t, tz).strftime(fmt) for t in b[:-1])


def _ticks(cron: str, timezone: str, start: float, until: float) -> tuple[float, ...]:
    """Cron instants in ``[start, until]``, increasing: the first window starts at the first
    tick at or after ``start``."""
    return tuple(_walk(cron, timezone, start, lambda t, n: t <= until))


def _ticks_after(cron: str, timezone: str, after: float, count: int) -> tuple[float, ...]:
    out = _walk(cron, timezone, after, lambda t, n: n < count + 1)
    return tuple(t for t in out if t > after)[:count]


def _walk(cron: str, timezone: str, start: float, keep_going: Any) -> list[float]:
    tz = ZoneInfo(timezone)
    step = _fixed_step(cron)
    out: list[float] = []
    if step is not None:
        wall = _first_wall(cron, datetime.fromtimestamp(start, tz).replace(tzinfo=None))
        while True:
            t = _instant(wall, tz)
            if t >= start:
                if not keep_going(t, len(out)):
                    break
                if not out or t > out[-1]:
                    out.append(t)
            wall = step(wall)
        return out
    c = Cron(cron, timezone)
    t0 = start - 1e-6
    for t in c.iter_after(t0):
        if not keep_going(t, len(out)):
            break
        out.append(t)
    return out


def _fixed_step(cron: str) -> Any:
    """For the four common periods, the next wall-clock tick by calendar arithmetic: a
    croniter step costs ~50 µs, and a 10,000-hour definition would take half a second."""
    parts = cron.split()
    if len(parts) != 5 or not parts[0].isdigit():
        return None
    minute, hour, dom, month, dow = parts
    if hour == "*" and dom == month == dow == "*":
        return lambda w: w + timedelta(hours=1)
    if not hour.isdigit():
        return None
    if dom == month == dow == "*":
        return lambda w: w + timedelta(days=1)
    if dom == month == "*" and dow.isdigit():
        return lambda w: w + timedelta(days=7)
    if dom.isdigit() and month == dow == "*" and int(dom) <= 28:
        return lambda w: (w.replace(year=w.year + 1, month=1) if w.month == 12 else w.replace(month=w.month + 1))
    return None


def _first_wall(cron: str, start: datetime) -> datetime:
    """The first wall-clock tick at or after ``start`` for a fixed-step cron."""
    minute, hour, dom, _month, dow = cron.split()
    m = int(minute)
    if hour == "*":
        first = start.replace(minute=m, second=0, microsecond=0)
        return first if first >= start else first + timedelta(hours=1)
    first = start.replace(hour=int(hour), minute=m, second=0, microsecond=0)
    if dom == "*" and dow == "*":
        return first if first >= start else first + timedelta(days=1)
    if dom == "*":
        want = int(dow) % 7  # cron: 0 = Sunday; Python: Monday = 0
        delta = (want - (first.isoweekday() % 7)) % 7
        first += timedelta(days=delta)
        return first if first >= start else first + timedelta(days=7)
    first = first.replace(day=int(dom))
    if first >= start:
        return first
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def HourlyPartitions(start: str, timezone: str = "UTC", *, minute_offset: int = 0, end: str | None = None,
                     end_offset: int = 0, fmt: str | None = None) -> TimeWindowPartitions:
    return TimeWindowPartitions(f"{minute_offset} * * * *", start, timezone, fmt or _FORMATS["hourly"], end,
                                end_offset)


def DailyPartitions(start: str, timezone: str = "UTC", *, hour_offset: int = 0, end: str | None = None,
                    end_offset: int = 0, fmt: str | None = None) -> TimeWindowPartitions:
    return TimeWindowPartitions(f"0 {hour_offset} * * *", start, timezone, fmt or _FORMATS["daily"], end, end_offset)


def WeeklyPartitions(start: str, timezone: str = "UTC", *, day_offset: int = 1, end: str | None = None,
                     end_offset: int = 0, fmt: str | None = None) -> TimeWindowPartitions:
    """Weeks start on Monday (``day_offset=1``; 0 is Sunday, as in cron)."""
    return TimeWindowPartitions(f"0 0 * * {day_offset}", start, timezone, fmt or _FORMATS["weekly"], end, end_offset)


def MonthlyPartitions(start: str, timezone: str = "UTC", *, day_offset: int = 1, end: str | None = None,
                      end_offset: int = 0, fmt: str | None = None) -> TimeWindowPartitions:
    return TimeWindowPartitions(f"0 0 {day_offset} * *", start, timezone, fmt or _FORMATS["monthly"], end,
                                end_offset)


def CronPartitions(cron: str, start: str, timezone: str = "UTC", *, fmt: str = "%Y-%m-%d-%H:%M",
                   end: str | None = None, end_offset: int = 0) -> TimeWindowPartitions:
    return TimeWindowPartitions(cron, start, timezone, fmt, end, end_offset)


# --- static and dynamic ----------------------------------------------------------------------


def _check_key_text(key: str, where: str) -> str:
    if not isinstance(key, str) or not _KEY_TEXT.match(key):
        raise DefinitionError(f"{where}: partition key {key!r} must be a non-empty string without "
                              "'[', ']', '|', ',' or leading white space")
    return key


@dataclass(frozen=True, slots=True)
class StaticPartitions(PartitionsDefinition):
    """A fixed list of keys (regions, customers known in advance)."""

    keys_: tuple[str, ...]

    def __init__(self, keys: Iterable[str]) -> None:
        keys = tuple(keys)
        seen: set[str] = set()
        for k in keys:
            _check_key_text(k, "StaticPartitions")
            if k in seen:
                raise DefinitionError(f"StaticPartitions: duplicate key {k!r}")
            seen.add(k)
        if not keys:
            raise DefinitionError("StaticPartitions needs at least one key")
        object.__setattr__(self, "keys_", keys)

    def compute_keys(self, ctx: PartitionContext) -> tuple[str, ...]:
        return self.keys_

    def describe(self) -> str:
        shown = ", ".join(self.keys_[:5]) + (", …" if len(self.keys_) > 5 else "")
        return f"static: {shown}"

    def _hint(self, key: str, keys: Sequence[str]) -> str:
        return ": it has " + ", ".join(repr(k) for k in keys[:8]) + (", …" if len(keys) > 8 else "")


@dataclass(frozen=True, slots=True)
class DynamicPartitions(PartitionsDefinition):
    """Keys added and removed at run time (CLI, API, a sensor, an asset); stored as events."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", self.name):
            raise DefinitionError(f"DynamicPartitions: name {self.name!r} must be letters, digits, '_', '-', '.'")

    def compute_keys(self, ctx: PartitionContext) -> tuple[str, ...]:
        return ctx.dynamic.get(self.name, ())

    def describe(self) -> str:
        return f"dynamic {self.name!r}"

    def _hint(self, key: str, keys: Sequence[str]) -> str:
        if not keys:
            return f": no key was added yet (headwater partitions {self.name} --add KEY)"
        return f": add it first (headwater partitions --dynamic {self.name} --add {key})"


# --- several dimensions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MultiPartitions(PartitionsDefinition):
    """The product of any number of named one-dimensional definitions; a key joins one key of
    each dimension with ``|`` in the declared order."""

    dims: tuple[tuple[str, PartitionsDefinition], ...]

    def __init__(self, dims: Mapping[str, PartitionsDefinition] | None = None, /,
                 **named: PartitionsDefinition) -> None:
        items = list((dims or {}).items()) + list(named.items())
        if len(items) < 2:
            raise DefinitionError("MultiPartitions needs at least two dimensions (use the definition itself for one)")
        for name, d in items:
            if not isinstance(d, PartitionsDefinition) or isinstance(d, MultiPartitions):
                raise DefinitionError(f"MultiPartitions: dimension {name!r} must be a one-dimensional partitions "
                                      f"definition, not {type(d).__name__}")
        object.__setattr__(self, "dims", tuple(items))

    @property
    def dimensions(self) -> tuple[tuple[str, PartitionsDefinition], ...]:
        return self.dims

    def dimension(self, name: str) -> tuple[int, PartitionsDefinition]:
        for i, (n, d) in enumerate(self.dims):
            if n == name:
                return i, d
        raise DefinitionError(f"unknown dimension {name!r}; dimensions are " + ", ".join(n for n, _ in self.dims))

    def compute_keys(self, ctx: PartitionContext) -> tuple[str, ...]:
        out: list[str] = [""]
        for i, (_name, d) in enumerate(self.dims):
            sub = ctx.keys(d)
            out = [f"{prefix}{DIMENSION_SEPARATOR}{k}" if i else k for prefix in out for k in sub]
        return tuple(out)

    def describe(self) -> str:
        return " × ".join(f"{n}: {d.describe()}" for n, d in self.dims)

    def split(self, key: str) -> tuple[str, ...]:
        return tuple(key.split(DIMENSION_SEPARATOR))

    def validate_key(self, key: str, ctx: PartitionContext, asset: AssetKey | str | None = None) -> None:
        parts = key.split(DIMENSION_SEPARATOR)
        owner = f" of asset {asset}" if asset is not None else ""
        if len(parts) != len(self.dims):
            raise PartitionError(
                f"partition {key!r}{owner} has {len(parts)} dimension(s); it needs {len(self.dims)}: "
                + DIMENSION_SEPARATOR.join(n for n, _ in self.dims))
        for part, (name, d) in zip(parts, self.dims):
            if part not in ctx.index(d):
                try:
                    d.validate_key(part, ctx)
                except PartitionError as exc:
                    raise PartitionError(f"partition {key!r}{owner}: dimension {name!r}: {exc}") from None

    def key_range(self, start: str | None, end: str | None, ctx: PartitionContext,
                  asset: AssetKey | str | None = None) -> tuple[str, ...]:
        """A range over the first time dimension (every key of the others), or of whole keys."""
        for i, (_name, d) in enumerate(self.dims):
            if isinstance(d, TimeWindowPartitions) and (start is None or DIMENSION_SEPARATOR not in start) \
                    and (end is None or DIMENSION_SEPARATOR not in end):
                chosen = set(d.key_range(start, end, ctx, asset))
                return tuple(k for k in ctx.keys(self) if k.split(DIMENSION_SEPARATOR)[i] in chosen)
        return PartitionsDefinition.key_range(self, start, end, ctx, asset)


# --- addressing --------------------------------------------------------------------------------

_ADDRESS = re.compile(r"^(?P<key>[^\[\]]+)\[(?P<partition>[^\[\]]*)\]$")


def parse_partitioned_key(text: str) -> tuple[str, str | None]:
    """``'sales[2026-03-04|eu]'`` -> ``('sales', '2026-03-04|eu')``; a plain key -> (key, None)."""
    text = text.strip()
    if "[" not in text and "]" not in text:
        return text, None
    m = _ADDRESS.match(text)
    if m is None:
        raise PartitionError(f"{text!r} is not an asset key with a partition; write it as asset[partition], "
                             "e.g. events[2026-03-04] or sales[2026-03-04|eu]")
    return m.group("key"), m.group("partition")


def format_partitioned_key(key: AssetKey | str, partition: str) -> str:
    return f"{key}[{partition}]" if partition else str(key)


def time_span(d: PartitionsDefinition, keys: Sequence[str], ctx: PartitionContext) -> tuple[float, float] | None:
    """The time covered by ``keys`` (first window's start, last window's end): what a step
    that builds them reads as ``context.time_window``; None without a time dimension."""
    if not keys:
        return None
    index = None
    sub: PartitionsDefinition = d
    if isinstance(d, MultiPartitions):
        for i, (_n, s) in enumerate(d.dims):
            if isinstance(s, TimeWindowPartitions):
                index, sub = i, s
                break
    if not isinstance(sub, TimeWindowPartitions):
        return None
    parts = [k.split(DIMENSION_SEPARATOR)[index] if index is not None else k for k in keys]
    positions = [ctx.index(sub)[p] for p in parts if p in ctx.index(sub)]
    if not positions:
        return None
    b = sub.windows(ctx)
    return b[min(positions)], b[max(positions) + 1]
