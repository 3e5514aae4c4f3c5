"""The small project the web tests run against: sources, groups, checks, a flaky asset, a
schedule, and hostile strings in a description, metadata and a log line."""

PIPELINE = '''
import os
from pathlib import Path

import headwater as hw

HERE = Path(__file__).parent
HOSTILE = "<script>alert('xss')</script>"


def observe_orders():
    text = (HERE / "orders.txt").read_text()
    return hw.Observation(data_version=str(len(text)), data_time=(HERE / "orders.txt").stat().st_mtime,
                          metadata={"bytes": len(text)})


raw_orders = hw.source_asset("raw/orders", observe=observe_orders, group="raw", kinds={"csv"},
                             description="Landed orders.")


@hw.asset(key="staging/orders", deps=["raw/orders"], group="staging", code_version="1",
          description="Typed orders " + HOSTILE, tags={"tier": "silver"})
def staging_orders(context: hw.AssetContext) -> hw.Output:
    rows = (HERE / "orders.txt").read_text().split()
    context.log.info("read " + str(len(rows)) + " rows " + HOSTILE)
    return hw.Output(rows, metadata={"rows": len(rows), "note": "<img src=x onerror=alert(1)>"})


@hw.asset(ins={"orders": "staging/orders"}, group="marts", code_version="1", owners=["finance@example.com"])
def revenue(orders: list) -> hw.Output:
    """Revenue of all orders."""
    return hw.Output(sum(int(o) for o in orders), metadata={"total": sum(int(o) for o in orders)})


@hw.asset(ins={"orders": "staging/orders"}, group="marts")
def flaky(context: hw.AssetContext, orders: list) -> int:
    """Fails while the FLAKY file exists."""
    context.log.info("looking for FLAKY next to " + HERE.name)
    if (HERE / "FLAKY").exists():
        raise RuntimeError("flaky failed on purpose")
    return len(orders)


@hw.asset(deps=["revenue", "flaky"], group="reporting", kinds={"dashboard"})
def dashboard() -> None:
    return None


@hw.check(asset="revenue")
def revenue_positive(revenue: int) -> hw.CheckResult:
    return hw.CheckResult(passed=revenue > 0, metadata={"revenue": revenue})


defs = hw.Definitions(assets=[raw_orders, staging_orders, revenue, flaky, dashboard], checks=[revenue_positive],
                      schedules=[hw.schedule("nightly", "30 2 * * *", "group:marts+", timezone="UTC")])
'''
