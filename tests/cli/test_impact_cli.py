"""``headwater impact`` end to end: a real project, a real store, the CLI and the API."""

import json
from datetime import datetime

from typer.testing import CliRunner

from headwater.cli.app import app

PROJECT = """
import headwater as hw
H = 3600

@hw.asset(owners=["sales"], freshness=hw.FreshnessPolicy.within(6 * H))
def orders():
    return 1

@hw.asset(owners=["finance"], freshness=hw.FreshnessPolicy.within(2 * H))
def revenue(orders):
    return orders

@hw.asset
def unrelated():
    return 0

@hw.check(asset="revenue", blocking=True)
def positive(revenue):
    return revenue > 0

defs = hw.Definitions(assets=[orders, revenue, unrelated], checks=[positive],
                      schedules=[hw.schedule("nightly", "0 2 * * *", "revenue"),
                                 hw.schedule("other", "0 3 * * *", "unrelated")])
"""


def ts(text):
    return datetime.fromisoformat(text).timestamp()


def test_impact_cli_json_and_text(write_project, tmp_path):
    path = write_project(PROJECT)
    home = tmp_path / "home"
    runner = CliRunner()
    args = ["-f", str(path), "--home", str(home)]
    assert runner.invoke(app, ["materialize", "*", "--executor", "in_process", *args]).exit_code == 0
    result = runner.invoke(app, ["impact", "orders", "--if", "failed", "--for", "3h", "--json", *args])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assets = {a["key"]: a for a in report["assets"]}
    assert list(assets) == ["revenue", "orders"]  # soonest breach first; `unrelated` is not affected
    data_time = ts(report["data_time"])
    assert ts(assets["revenue"]["breach_at"]) - data_time == 2 * 3600
    assert ts(assets["orders"]["breach_at"]) - data_time == 6 * 3600
    assert report["breaches"] == ["revenue"]  # within 3 h; orders breaches after 6 h
    assert assets["revenue"]["path"] == ["orders", "revenue"]
    assert report["by_owner"] == {"finance": ["revenue"], "sales": ["orders"]}
    assert report["checks"] == [{"asset": "revenue", "check": "positive", "blocking": True, "severity": "error"}]
    assert [t["name"] for t in report["triggers"]] == ["nightly"]
    text = runner.invoke(app, ["impact", "orders", *args])
    assert text.exit_code == 0
    assert "2 freshness policies breach within 24 h if orders stays late" in text.stdout
    assert "path: orders -> revenue" in text.stdout and "revenue positive (blocking" in text.stdout
    bad = runner.invoke(app, ["impact", "orders", "--for", "soon", *args])
    assert bad.exit_code == 2 and "--for 'soon' is not a duration" in bad.output
