"""The run page's event log says what each event means in words."""

from headwater.core.events import AssetFailed, AssetSkipped, ErrorInfo, SkipReason
from headwater.core.keys import AssetKey
from headwater.core.records import StoredEvent
from headwater.web.run_view import describe


def test_a_skipped_asset_of_a_step_says_which_and_why():
    event = AssetSkipped(run_id="r", timestamp=1.0, step_key="dbt", key=AssetKey.parse("marts/orders"),
                         reason=SkipReason.UPSTREAM_FAILED, detail="stg_orders failed in the same build")
    line = describe(StoredEvent(7, event))
    assert line.text == "marts/orders skipped: upstream_failed — stg_orders failed in the same build"
    assert line.step == "dbt" and line.id == 7


def test_a_failed_asset_of_a_step_is_an_error_line_with_its_traceback():
    event = AssetFailed(run_id="r", timestamp=1.0, step_key="dbt", key=AssetKey.parse("marts/x"),
                        error=ErrorInfo("boom", "ValueError", "Traceback ..."))
    line = describe(StoredEvent(8, event))
    assert (line.text, line.level, line.traceback) == ("marts/x: boom", "error", "Traceback ...")
