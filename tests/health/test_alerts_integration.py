"""Alert rules evaluated by the service after runs, delivered to a real local webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import headwater as hw
import headwater.alerts as hw_alerts


@pytest.fixture
def hook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def project(url, fail):
    @hw.asset(group="marts")
    def revenue():
        if fail["on"]:
            raise RuntimeError("warehouse timeout")
        return 1

    @hw.asset(group="raw")
    def other():
        raise RuntimeError("not covered by the rule")

    rule = hw_alerts.rule("oncall", when=["failed"], selection="group:marts",
                          channels=[hw_alerts.webhook(url, max_attempts=1)])
    return hw.Definitions(assets=[revenue, other], alerts=[rule])


def test_failure_alerts_once_and_recovery_resolves(instance, hook):
    url, received = hook
    fail = {"on": True}
    defs = project(url, fail)
    instance.materialize(defs, "*")
    assert [(m["rule"], m["asset"], m["state"]) for m in received] == [("oncall", "revenue", "firing")]
    instance.materialize(defs, "*")  # still failing: no second alert
    assert len(received) == 1
    fail["on"] = False
    instance.materialize(defs, "revenue")
    assert [m["state"] for m in received] == ["firing", "resolved"]
    deliveries = instance.alert_deliveries()
    assert len(deliveries) == 2 and all(d.ok for d in deliveries)
    assert instance.alert_states()[("oncall", hw.AssetKey.parse("revenue"))].state.value == "resolved"
