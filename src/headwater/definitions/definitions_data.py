"""A code location's definitions as plain data, and ``Definitions`` rebuilt from that data.

The process that owns a location's interpreter imports the user's code and describes it
with ``definitions_to_data``; everyone else (the CLI answering ``status``, the UI, the
daemon, another location) rebuilds with ``definitions_from_data`` a ``Definitions`` that
has the same graph, specs, checks, partitions, policies, schedules and sensors, whose
functions are ``RemoteFunction`` stand-ins: enough for status, selection, lineage and
planning; a step is sent to the location to run.

Dependencies satisfied by another location are listed as ``external`` (see
``external_deps``): they are not part of this location's assets, and join the owning
location's in the workspace graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from headwater.core.keys import AssetKey
from headwater.core.specs import AssetSpec, CheckSpec
from headwater.definitions.assets import AssetsDefinition, SourceDefinition
from headwater.definitions.checks import CheckDefinition
from headwater.definitions.data_codec import RemoteFunction, decode, encode
from headwater.definitions.definitions import Definitions
from headwater.errors import DefinitionError

FORMAT_VERSION = 1

_SPEC_FIELDS = tuple(f for f in AssetSpec.__slots__ if f != "key")  # type: ignore[attr-defined]
_SPEC_DEFAULTS = {f: getattr(AssetSpec(key="x"), f) for f in _SPEC_FIELDS}
_CHECK_FIELDS = ("severity", "blocking", "description", "location")
_CHECK_DEFAULTS = {f: getattr(CheckSpec("x", "x"), f) for f in _CHECK_FIELDS}


def spec_to_data(spec: AssetSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"key": str(spec.key)}
    for f in _SPEC_FIELDS:
        v = getattr(spec, f)
        d = _SPEC_DEFAULTS[f]
        if v is d or (type(v) is type(d) and v == d):
            continue
        out[f] = encode(v, lenient=f == "metadata")
    return out


_PLAIN = frozenset({str, int, float, bool})


def spec_from_data(data: Mapping[str, Any], code_location: str | None = None,
                   default_timeout: float | None = None) -> AssetSpec:
    # Plain fields and the dependencies' keys are read directly, the rest through the codec:
    # every CLI command of a workspace decodes all its locations' specs (9,000 for three teams).
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        if k == "deps" and type(v) is list:
            kwargs[k] = tuple([_dep_key(d) for d in v])
        elif v is None or type(v) in _PLAIN:
            if k != "key":
                kwargs[k] = v
        else:
            kwargs[k] = decode(v)
    if default_timeout is not None and kwargs.get("timeout") is None:
        kwargs["timeout"] = default_timeout  # the location's step_timeout, carried by each of its assets
    if code_location is not None:
        kwargs["code_location"] = code_location
    return AssetSpec(key=data["key"], **kwargs)


def _dep_key(data: Any) -> Any:
    path = data.get("$k") if type(data) is dict else None
    return AssetKey(tuple(path)) if type(path) is list else decode(data)


def check_to_data(spec: CheckSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"asset": str(spec.asset), "name": spec.name}
    out.update({f: encode(getattr(spec, f)) for f in _CHECK_FIELDS if getattr(spec, f) != _CHECK_DEFAULTS[f]})
    return out


def definitions_to_data(defs: Definitions, location: str) -> dict[str, Any]:
    """Everything ``defs`` declares that can be known without running it, as JSON-able data."""
    external = getattr(defs, "external_keys", frozenset())
    assets = []
    for d in defs.assets_defs:
        item: dict[str, Any] = {"name": d.name, "specs": [spec_to_data(s) for s in d.specs]}
        if d.is_multi:
            item["multi"] = True
        if d.can_subset:
            item["subset"] = True
        if getattr(d.fn, "runs_in_child_process", False):
            item["child_process"] = True
        assets.append(item)
    sources = []
    for key, src in defs.sources.items():
        if key in external:
            continue
        item = {"spec": spec_to_data(src.spec)}
        if src.observe is not None:
            item["observable"] = True
        sources.append(item)
    return {
        "format": FORMAT_VERSION,
        "location": location,
        "assets": assets,
        "sources": sources,
        "checks": [check_to_data(c) for c in defs.check_specs],
        "external": sorted(str(k) for k in external),
        "schedules": [encode(s) for s in defs.schedules],
        "sensors": [encode(s) for s in defs.sensors],
        "max_concurrent_runs": defs.max_concurrent_runs,
        "concurrency_limits": dict(defs.concurrency_limits),
        "step_timeout": defs.step_timeout,
    }


def parts_from_data(data: Mapping[str, Any], code_location: str | None = None
                    ) -> tuple[list[Any], list[CheckDefinition]]:
    """The asset, source and check definitions ``data`` describes, with stand-in functions:
    what a workspace joins with other locations' into one ``Definitions`` (stamping each
    spec with ``code_location``, which ``location:`` selects)."""
    if data.get("format") != FORMAT_VERSION:
        raise DefinitionError(f"definitions data of location {data.get('location')!r} has format "
                              f"{data.get('format')!r}; this Headwater reads format {FORMAT_VERSION}")
    where = str(data["location"])
    items: list[Any] = []
    # Joined with other locations (``code_location`` given), the location's step_timeout can only
    # travel on its own assets; ``definitions_from_data`` keeps it on the Definitions instead.
    timeout = data.get("step_timeout") if code_location is not None else None
    for a in data["assets"]:
        specs = tuple(spec_from_data(s, code_location, timeout) for s in a["specs"])
        fn = RemoteFunction(where, f"asset {a['name']}", bool(a.get("child_process")))
        items.append(AssetsDefinition(a["name"], specs, fn, is_multi=bool(a.get("multi")),
                                      can_subset=bool(a.get("subset"))))
    for s in data["sources"]:
        spec = spec_from_data(s["spec"], code_location)
        observe = RemoteFunction(where, f"observe of {spec.key}", target=("observe", str(spec.key))) \
            if s.get("observable") else None
        items.append(SourceDefinition(spec, observe))
    checks = []
    for c in data["checks"]:
        kwargs = {f: decode(c[f]) for f in _CHECK_FIELDS if f in c}
        spec = CheckSpec(c["asset"], c["name"], **kwargs)
        checks.append(CheckDefinition(spec, RemoteFunction(where, f"check {c['name']} on {c['asset']}"), None, False))
    return items, checks


def automation_from_data(data: Mapping[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Schedules and sensors; a sensor's function is a stand-in, evaluated in its location's
    process when a workspace binds it (``RemoteFunction.caller``)."""
    where = str(data["location"])
    schedules = tuple(decode(s) for s in data.get("schedules", ()))
    sensors = tuple(decode(s, lambda name: RemoteFunction(where, f"sensor function {name}", name=name))
                    for s in data.get("sensors", ()))
    for sensor in sensors:
        if isinstance(sensor.fn, RemoteFunction):
            sensor.fn.target = ("sensor", sensor.name)
    return schedules, sensors


def definitions_from_data(locations: Iterable[Mapping[str, Any]]) -> Definitions:
    """One ``Definitions`` from the data of one or more locations (validated as a whole)."""
    items: list[Any] = []
    checks: list[CheckDefinition] = []
    schedules: list[Any] = []
    sensors: list[Any] = []
    limits: dict[str, int] = {}
    max_runs: int | None = None
    step_timeout: float | None = None
    for data in locations:
        i, c = parts_from_data(data)
        items.extend(i)
        checks.extend(c)
        s, n = automation_from_data(data)
        schedules.extend(s)
        sensors.extend(n)
        limits.update(data.get("concurrency_limits") or {})
        max_runs = max_runs or data.get("max_concurrent_runs")
        step_timeout = step_timeout or data.get("step_timeout")
    return Definitions(assets=items, checks=checks, schedules=schedules, sensors=sensors,
                       concurrency_limits=limits or None, max_concurrent_runs=max_runs, step_timeout=step_timeout)
