"""Large stores read back correctly; the timings are printed, and judged in bench/ (never here)."""


from __future__ import annotations

import statistics
import time

from storage_events import T0, checked, key, materialized, step_started

from headwater.core.events import LogMessage
from headwater.storage.sql.store import open_store

N = 10_000


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def test_ten_thousand_assets_write_and_read_back(sqlite_url):
    names = [f"layer{i % 10}/asset_{i}" for i in range(N)]
    with open_store(sqlite_url) as writer:
        write_1000 = [
            _timed(lambda b=b: writer.write([
                materialized("r1", names[i], T0 + i, f"v{i}", inputs=tuple(names[j] for j in range(max(0, i - 2), i)),
                             metadata={"rows": i}) for i in range(b * 1000, (b + 1) * 1000)]))
            for b in range(N // 1000)
        ]
        write_1 = [_timed(lambda i=i: writer.write([LogMessage(run_id="r1", timestamp=T0 + i, message="x")]))
                   for i in range(50)]

    with open_store(sqlite_url) as reader:  # a fresh process's view: nothing decoded yet
        facts: dict = {}
        cold = _timed(lambda: facts.update(reader.latest_facts()))
        warm = min(_timed(reader.latest_facts) for _ in range(3))
        with open_store(sqlite_url) as writer:
            writer.write([step_started("r2", "x", *names[:100], at=T0 + N)])
        after_change = _timed(reader.latest_facts)

    print(f"\nSQLite, {N} assets: write 1000 materializations {statistics.median(write_1000) * 1e3:.0f} ms, "
          f"write 1 event {statistics.median(write_1) * 1e3:.2f} ms (median); latest_facts cold "
          f"{cold * 1e3:.0f} ms, warm {warm * 1e3:.0f} ms, after 100 changed {after_change * 1e3:.0f} ms")
    assert len(facts) == N
    assert facts[key("layer7/asset_9997")].last_materialization.inputs[1].key == key("layer6/asset_9996")


def test_check_results_of_ten_thousand_assets_read_back(sqlite_url):
    names = [f"layer{i % 10}/asset_{i}" for i in range(N)]
    checks = ("not_null", "unique")
    with open_store(sqlite_url) as writer:
        for b in range(N // 1000):
            writer.write([checked(names[i], c, i % 7 != 0, T0 + i, metadata={"rows": i})
                          for i in range(b * 1000, (b + 1) * 1000) for c in checks])

    with open_store(sqlite_url) as reader:
        results: dict = {}
        cold = _timed(lambda: results.update(reader.latest_check_results()))
        warm = min(_timed(reader.latest_check_results) for _ in range(3))
        with open_store(sqlite_url) as writer:
            writer.write([checked(n, "unique", False, T0 + N, run_id="r2") for n in names[:100]])
        after_change = _timed(reader.latest_check_results)
        assert reader.latest_check_results()[key(names[5])]["unique"].run_id == "r2"

    print(f"\nSQLite, {N} assets x {len(checks)} checks: latest_check_results cold {cold * 1e3:.0f} ms, "
          f"warm {warm * 1e3:.0f} ms, after 100 changed {after_change * 1e3:.0f} ms")
    assert len(results) == N and all(len(v) == len(checks) for v in results.values())
    assert results[key("layer7/asset_7")]["not_null"].passed is False
