"""Definitions as data: what a location reports survives JSON and rebuilds the same graph."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import headwater as hw
import headwater.automation.data_types  # noqa: F401 - registers conditions, schedules, sensors
from headwater.automation import conditions as c
from headwater.core.cron import Cron
from headwater.core.partition_mappings import (
    AllPartitions,
    DimensionMapping,
    IdentityMapping,
    LastPartitions,
    StaticMapping,
    TimeWindowMapping,
)
from headwater.core.partitions import DynamicPartitions, MultiPartitions, StaticPartitions
from headwater.core.specs import AssetSpec, RetryPolicy, SourceLocation
from headwater.definitions.data_codec import RemoteFunction, decode, encode
from headwater.definitions.definitions_data import (
    definitions_from_data,
    definitions_to_data,
    spec_from_data,
    spec_to_data,
)
from headwater.definitions.external_deps import allow_external_deps
from headwater.errors import DefinitionError, UnknownKeyError

names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
keys = st.lists(names, min_size=1, max_size=3).map(lambda p: "/".join(p))
text = st.text(max_size=12)
partitions = st.one_of(
    st.none(),
    st.just(hw.DailyPartitions("2026-01-01")),
    st.lists(names, min_size=1, max_size=4, unique=True).map(StaticPartitions),
    names.map(DynamicPartitions),
    st.just(MultiPartitions(day=hw.DailyPartitions("2026-01-01"), region=StaticPartitions(["eu", "us"]))),
)
mappings = st.sampled_from([IdentityMapping(), AllPartitions(), LastPartitions(3), TimeWindowMapping(-1, 0),
                            StaticMapping({"a": ["x", "y"]}), DimensionMapping("day", LastPartitions(2))])
automation = st.sampled_from([None, c.Missing(), c.AnyOf((c.Missing(), c.Stale())), c.Not(c.Failed()),
                              c.OnCron(Cron("0 6 * * *", "Europe/Berlin")), c.FreshnessDue(60.0)])
freshness = st.sampled_from([None, hw.FreshnessPolicy.within(3600, 600),
                             hw.FreshnessPolicy.by_deadline("0 9 * * *", 3600, "Europe/Berlin")])


@st.composite
def specs(draw):
    key = draw(keys)
    deps = draw(st.lists(keys.filter(lambda k: k != key), max_size=3, unique=True))
    chosen = draw(st.lists(st.sampled_from(deps), unique=True)) if deps else []
    return AssetSpec(
        key=key, deps=deps, group=draw(names), tags=draw(st.dictionaries(names, text, max_size=2)),
        owners=draw(st.lists(text, max_size=2)), kinds=draw(st.frozensets(names, max_size=2)),
        description=draw(st.none() | text), code_version=draw(st.none() | text),
        metadata=draw(st.dictionaries(names, st.integers() | text | st.lists(st.integers(), max_size=2), max_size=2)),
        is_source=draw(st.booleans()), retry=draw(st.none() | st.just(RetryPolicy(2, 0.5))),
        timeout=draw(st.none() | st.floats(1, 100)), location=SourceLocation("p.py", draw(st.integers(1, 99))),
        freshness=draw(freshness), automation=draw(automation), observe_interval=draw(st.none() | st.floats(1, 60)),
        partitions=draw(partitions), dep_mappings={d: draw(mappings) for d in chosen},
        max_partitions_per_run=draw(st.none() | st.integers(1, 5)),
        executor_tags=draw(st.dictionaries(names, text, max_size=1)))


def _metadata_as_data(spec):
    # Metadata is free-form: lists come back as tuples, like every sequence in a spec.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in spec.metadata.items()}


@settings(max_examples=80, deadline=None)
@given(specs())
def test_a_spec_survives_json(spec):
    back = spec_from_data(json.loads(json.dumps(spec_to_data(spec))))
    assert back == spec.__class__(**{**{f: getattr(spec, f) for f in spec.__slots__},
                                     "metadata": _metadata_as_data(spec)})


def test_unknown_objects_are_refused_by_name():
    with pytest.raises(DefinitionError, match="cannot describe object"):
        encode(object())
    with pytest.raises(DefinitionError, match="unknown type 'Nope'"):
        decode({"$t": "Nope"})


def _project():
    raw = hw.source_asset("raw/orders", observe=lambda: None)

    @hw.asset(deps=["raw/orders"], partitions=hw.DailyPartitions("2026-01-01"), group="staging",
              owners=["ingest"], code_version="3", freshness=hw.FreshnessPolicy.within(3600),
              automation=c.AnyOf((c.Missing(), c.Stale())))
    def orders():
        return 1

    @hw.asset(ins={"o": hw.Dep("orders", mapping=LastPartitions(7))}, tags={"tier": "gold"})
    def weekly(o):
        return 2

    @hw.check("weekly", severity="warn", blocking=True)
    def positive(weekly):
        return weekly > 0

    @hw.sensor(interval=30)
    def inbox(context):
        return None

    sched = hw.schedule("nightly", "0 2 * * *", selection="group:staging", timezone="Europe/Berlin")
    return hw.Definitions(assets=[raw, orders, weekly], checks=[positive], schedules=[sched], sensors=[inbox],
                          concurrency_limits={"group:staging": 2}, step_timeout=60)


def test_definitions_rebuild_from_data_without_the_functions():
    defs = _project()
    data = json.loads(json.dumps(definitions_to_data(defs, "team")))
    again = definitions_from_data([data])
    assert list(again.graph.keys) == list(defs.graph.keys)
    for key in defs.graph.keys:
        assert again.graph.spec(key) == defs.graph.spec(key)
    w, o = hw.AssetKey.parse("weekly"), hw.AssetKey.parse("orders")
    assert again.graph.mapping(w, o) == defs.graph.mapping(w, o) == LastPartitions(7)
    assert again.check_specs == defs.check_specs
    assert [s.name for s in again.schedules] == ["nightly"] and again.schedules[0].cron == defs.schedules[0].cron
    assert again.sensors[0].interval == 30 and isinstance(again.sensors[0].fn, RemoteFunction)
    assert again.concurrency_limits == {"group:staging": 2} and again.step_timeout == 60
    assert again.step_key_for(w) == "weekly"
    assert isinstance(again.source_for(hw.AssetKey.parse("raw/orders")).observe, RemoteFunction)
    with pytest.raises(hw.HeadwaterError, match="runs in code location 'team'"):
        again.definition_for(w).fn()
    # And the data of the rebuilt definitions is the data it came from: nothing lost on the way.
    assert json.loads(json.dumps(definitions_to_data(again, "team"))) == data


def test_a_location_may_depend_on_keys_another_location_defines():
    @hw.asset(deps=["ingest/orders"])
    def report():
        return 1

    @hw.asset
    def summary(customers):  # by name: customers lives in another location
        return customers

    with pytest.raises(UnknownKeyError):
        hw.Definitions(assets=[report, summary])
    with allow_external_deps():
        defs = hw.Definitions(assets=[report, summary])
    data = definitions_to_data(defs, "analytics")
    assert data["external"] == ["customers", "ingest/orders"]
    assert [s["spec"]["key"] for s in data["sources"]] == []  # placeholders are not this location's assets
