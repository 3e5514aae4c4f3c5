"""Per-asset outcomes inside one step (a dbt build): failed and skipped assets, on every backend."""

from __future__ import annotations

import json

from storage_events import T0, key, materialized, started, step_started

from headwater.core.events import (
    AssetFailed,
    AssetSkipped,
    ErrorInfo,
    SkipReason,
    StepSkipped,
    event_from_json,
    event_to_json,
)
from headwater.core.records import AttemptStatus
from headwater.storage.sql import codec


def test_asset_skipped_marks_the_attempt_skipped_keeping_the_materialization_and_the_reason(store):
    store.write([started("r0"), materialized("r0", "m2", at=T0)])
    store.write([started("r1", T0 + 10), step_started("r1", "dbt", "m1", "m2", at=T0 + 11),
                 AssetFailed(run_id="r1", timestamp=T0 + 12, step_key="dbt", key=key("m1"), error=ErrorInfo("boom"),
                             metadata={"dbt/status": "error"}),
                 AssetSkipped(run_id="r1", timestamp=T0 + 12, step_key="dbt", key=key("m2"),
                              detail="dbt skipped it: upstream m1 failed")])
    facts = store.latest_facts()
    assert facts[key("m1")].last_attempt_status is AttemptStatus.FAILED
    m2 = facts[key("m2")]
    assert m2.last_attempt_status is AttemptStatus.SKIPPED and m2.last_attempt_run_id == "r1"
    assert m2.last_materialization is not None and m2.last_materialization.run_id == "r0"
    assert m2.last_failure == ErrorInfo("dbt skipped it: upstream m1 failed", "skipped")


def test_a_skipped_step_keeps_its_reason_too(store):
    store.write([started("r1"), StepSkipped(run_id="r1", timestamp=T0 + 1, step_key="c", asset_keys=(key("c"),),
                                            reason=SkipReason.UPSTREAM_FAILED, detail="upstream step b failed")])
    fact = store.latest_facts()[key("c")]
    assert fact.last_attempt_status is AttemptStatus.SKIPPED
    assert fact.last_failure is not None and fact.last_failure.message == "upstream step b failed"


def test_per_asset_events_round_trip_through_both_encoders():
    for event in (AssetSkipped(run_id="r1", timestamp=T0, step_key="dbt", key=key("m"), partition="p",
                               reason=SkipReason.UPSTREAM_FAILED, detail="why", metadata={"k": [1]}),
                  AssetFailed(run_id="r1", timestamp=T0, step_key="dbt", key=key("m"), error=ErrorInfo("x", "E"),
                              metadata={"dbt/status": "error"})):
        text = event_to_json(event)
        assert json.loads(codec.event_json(event)) == json.loads(text)
        back = event_from_json(event.type_name, codec.event_json(event))
        assert back == event and type(back.metadata) is not dict  # frozen on the way back
