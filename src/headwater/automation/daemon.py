"""The daemon: schedules, sensors, automation, source observations, alerts and the run queue.

The loop is dumb on purpose. Each tick reads the stored state once, asks the pure
decision functions (``schedule_tick``, ``evaluate_sensor``, ``evaluate_automation``,
``runs_to_launch``) what to do, queues runs under deterministic run keys and records a
tick per instigator. Exactly-once comes from the store, not from the loop: a run key is
queued once, so a daemon killed in the middle of a tick and restarted re-decides the same
requests and the store drops the duplicates. One daemon per store acts at a time: the
others wait for its lease to expire.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from headwater.automation.garbage import collect_if_due, retention_of
from headwater.automation.gating import current_holds, prune
from headwater.automation.launcher import launch_worker
from headwater.automation.run_queue import build_limits, runs_to_launch
from headwater.automation.run_requests import RunRequest
from headwater.automation.run_status_sensors import tick_run_status_sensor
from headwater.core.events import ErrorInfo, RunFinished, RunStatus, TickRecorded, TickStatus
from headwater.core.keys import AssetKey
from headwater.definitions.definitions import Definitions
from headwater.definitions.loader import DefinitionsLocation

log = logging.getLogger("headwater.daemon")

LEASE = "daemon"
AUTOMATION = "automation"
MEMORY_KEY = "__memory__"


@dataclass
class TickReport:
    """What one daemon tick did, for logs and tests."""

    queued: list[str] = field(default_factory=list)
    launched: list[str] = field(default_factory=list)
    ticks: list[TickRecorded] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)  # instigator -> the gates that held its requests


class Daemon:
    def __init__(self, instance: Any, defs: Definitions, location: DefinitionsLocation, *,
                 interval: float = 5.0, owner: str | None = None, clock: Callable[[], float] | None = None,
                 lease_ttl: float | None = None) -> None:
        from headwater.automation.validation import validate_project

        validate_project(defs)
        self.instance = instance
        self.defs = defs
        self.location = location
        self.interval = interval
        # How long a daemon that died keeps others waiting; renewed every tick while alive.
        self.lease_ttl = lease_ttl if lease_ttl is not None else max(15.0, 3 * interval)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock or instance.clock
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.retention = retention_of(location)
        self._gates: dict[Any, Any] = {}
        self.held: dict[str, str] = {}

    # -- loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_wait: Callable[[str], None] | None = None) -> None:
        ttl = self.lease_ttl
        try:
            while not stop.is_set():
                if self.instance.store.acquire_lease(LEASE, self.owner, ttl, time.time()):
                    try:
                        self.tick()
                    except Exception:  # noqa: BLE001 - one bad tick must not end the daemon
                        log.exception("daemon tick failed")
                elif on_wait is not None:
                    on_wait("another daemon holds the lease on this store; waiting")
                self._rest(stop)
        finally:
            self.instance.store.release_lease(LEASE, self.owner)

    def _rest(self, stop: threading.Event) -> None:
        """Wait for the next tick; on a store that notifies (PostgreSQL), a run queued by
        another process (the UI, ``materialize --queue``) ends the wait at once."""
        store = self.instance.store
        if not getattr(store, "notifies", False):
            stop.wait(self.interval)
            return
        known = {r.run_id for r in store.queued_runs()}  # waiting for a slot: no reason to wake
        deadline = time.monotonic() + self.interval
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if store.wait_for_queued_run(min(left, 1.0), known):  # 1 s: stop is looked at that often
                return

    def tick(self) -> TickReport:
        workspace = getattr(self.defs, "workspace", None)  # several code locations (docs/workspaces.md)
        if workspace is not None and workspace.reload_changed():  # only the locations whose files changed
            self.defs = workspace.definitions()
        now = self.clock()
        report = TickReport()
        self.held = report.held
        self._gates, _ = current_holds(self.instance.store, self.defs)
        self.instance.reap_dead_runs()
        self._reap_workers()
        states = self.instance.store.instigator_states()
        self._schedules(now, states, report)
        self._sensors(now, states, report)
        self._automation(now, report)
        self._observations(now, states, report)
        self.instance.evaluate_alerts(self.defs)
        # Backfills queue their next runs (each under its own lease); the queue launches them.
        report.queued.extend(self.instance.drive_backfills(self.defs, self.location, self.owner, self.lease_ttl))
        self._launch(report)
        collect_if_due(self.instance, self.retention, now, states, report.ticks)
        return report

    # -- instigators -----------------------------------------------------------------------

    def _enabled(self, name: str, default: bool, states: dict[str, Any]) -> bool:
        state = states.get(name)
        return default if state is None or state.enabled is None else bool(state.enabled)

    def _queue(self, requests: list[RunRequest], origin: str) -> tuple[list[str], list[str]]:
        keys, ids = [], []
        for req in requests:
            req, note = prune(req, self.defs, self._gates)  # held by a failed blocking check: gating.py
            if note:
                self.held[origin] = note
            if req is None:
                continue
            record, _ = self.instance.enqueue(
                self.defs, req.selection, asset_keys=req.asset_keys, run_key=req.run_key, tags=dict(req.tags),
                origin=origin, mode=req.mode, location=self.location, partition=req.partition,
                partition_range=req.partition_range)
            ids.append(record.run_id)
            if req.run_key:
                keys.append(req.run_key)
        return keys, ids

    def _queue_for(self, report: TickReport, requests: list[RunRequest], origin: str) -> tuple[list[str], list[str]]:
        keys, ids = self._queue(requests, origin)
        report.queued.extend(ids)
        return keys, ids

    def _record(self, tick: TickRecorded, report: TickReport) -> None:
        note = self.held.get(tick.instigator, "")
        if note:  # say in the tick that a gate held (part of) what it asked for
            status = TickStatus.SKIPPED if tick.status is TickStatus.SUCCESS and not tick.run_ids else tick.status
            reason = (tick.skip_reason + "; " if tick.skip_reason else "") + "held by a failed blocking check: " + note
            tick = replace(tick, status=status, skip_reason=reason)
        self.instance.store.write([tick])
        report.ticks.append(tick)

    def _schedules(self, now: float, states: dict[str, Any], report: TickReport) -> None:
        from headwater.automation.schedules import schedule_tick

        for sched in self.defs.schedules:
            name = f"schedule:{sched.name}"
            if not self._enabled(name, sched.default_enabled, states):
                continue
            state = states.get(name)
            requests, watermark = schedule_tick(sched, state.last_tick_time if state else None, now)
            keys, ids = self._queue(requests, name)
            report.queued.extend(ids)
            if requests or state is None:
                self._record(TickRecorded(
                    run_id=None, timestamp=now, instigator=name,
                    status=TickStatus.SUCCESS if requests else TickStatus.SKIPPED, tick_time=watermark,
                    run_keys=tuple(keys), run_ids=tuple(ids),
                    skip_reason="" if requests else "first evaluation: waiting for the next fire time"), report)

    def _sensors(self, now: float, states: dict[str, Any], report: TickReport) -> None:
        from headwater.automation.sensors import SensorContext, evaluate_sensor, sensor_due

        facts = None
        for sensor in self.defs.sensors:
            name = f"sensor:{sensor.name}"
            if not self._enabled(name, sensor.default_enabled, states):
                continue
            state = states.get(name)
            if not sensor_due(sensor, state.last_tick_time if state else None, now):
                continue
            if sensor.kind == "run_status":  # one tick per finished run: run_status_sensors.py
                tick_run_status_sensor(sensor, state.cursor if state else None, now, self.instance.store,
                                       self.defs.graph, lambda reqs, origin: self._queue_for(report, reqs, origin),
                                       lambda t: self._record(t, report))
                continue
            if facts is None:
                facts = self.instance.store.latest_facts()
            watch = getattr(sensor, "watch_selection", None)
            watched = frozenset(self.instance.select(self.defs, watch)) if watch else None
            context = SensorContext(cursor=state.cursor if state else None,
                                    last_tick_time=state.last_tick_time if state else None, now=now, facts=facts,
                                    sensor_name=sensor.name)
            outcome = evaluate_sensor(sensor, context, watched)
            for dynamic, added in outcome.dynamic_partitions.items():
                self.instance.add_dynamic_partitions(dynamic, added)
            keys, ids = self._queue(list(outcome.run_requests), name) if outcome.status == "success" else ([], [])
            report.queued.extend(ids)
            error = ErrorInfo(outcome.error_message, "SensorError", outcome.error_traceback) \
                if outcome.status == "failed" else None
            self._record(TickRecorded(
                run_id=None, timestamp=now, instigator=name, status=TickStatus(outcome.status), tick_time=now,
                run_keys=tuple(keys), run_ids=tuple(ids), cursor=outcome.cursor, skip_reason=outcome.skip_reason,
                error=error), report)

    def _automation(self, now: float, report: TickReport) -> None:
        conditions = {s.key: s.automation for s in self.defs.graph.specs if s.automation is not None}
        if not conditions:
            return
        from headwater.automation.conditions import AutomationMemory, evaluate_automation
        from headwater.core.partition_status import newest_partition_view

        last = self.instance.store.ticks(AUTOMATION, limit=1)
        raw = last[0].evaluations.get(MEMORY_KEY) if last else None
        memory = AutomationMemory.from_json(raw) if raw else AutomationMemory.from_json(None)
        # A partitioned asset is judged by its newest time window: automation keeps today's
        # slice current and leaves missing history to backfills.
        statuses = newest_partition_view(self.instance.statuses(self.defs))
        in_flight = self._in_flight()
        result = evaluate_automation(self.defs.graph, conditions, statuses, memory, now, in_flight)
        keys, ids = self._queue(list(result.run_requests), AUTOMATION)
        report.queued.extend(ids)
        evaluations = thin_explanations(result.explanations, result.requested)
        evaluations[MEMORY_KEY] = result.memory.to_json()
        self._record(TickRecorded(
            run_id=None, timestamp=now, instigator=AUTOMATION,
            status=TickStatus.SUCCESS if ids else TickStatus.SKIPPED, tick_time=now, run_keys=tuple(keys),
            run_ids=tuple(ids), skip_reason="" if ids else "no condition requested a run",
            evaluations=evaluations), report)

    def _in_flight(self) -> frozenset[AssetKey]:
        runs = self.instance.store.list_runs(limit=1000, statuses=[RunStatus.QUEUED, RunStatus.STARTED])
        return frozenset(k for r in runs for k in r.asset_keys)

    def _observations(self, now: float, states: dict[str, Any], report: TickReport) -> None:
        for key, source in self.defs.sources.items():
            interval = source.spec.observe_interval
            if interval is None:
                continue
            name = f"observe:{key}"
            state = states.get(name)
            if state is not None and state.last_tick_time is not None and now - state.last_tick_time < interval:
                continue
            try:
                self.instance.observe(self.defs, f'"{key}"')
                tick = TickRecorded(run_id=None, timestamp=now, instigator=name, status=TickStatus.SUCCESS,
                                    tick_time=now)
            except Exception as exc:  # noqa: BLE001 - recorded; retried next interval
                tick = TickRecorded(run_id=None, timestamp=now, instigator=name, status=TickStatus.FAILED,
                                    tick_time=now, error=ErrorInfo.from_exception(exc, traceback.format_exc()))
            self._record(tick, report)

    # -- the queue -------------------------------------------------------------------------

    def _launch(self, report: TickReport) -> None:
        store = self.instance.store
        queued = store.queued_runs(limit=100)
        if not queued:
            return
        running = store.list_runs(limit=1000, statuses=[RunStatus.STARTED])
        limits = build_limits(self.defs.concurrency_limits, lambda s: self.instance.select(self.defs, s))
        decision = runs_to_launch(queued, running, self.defs.max_concurrent_runs, limits)
        report.waiting.update(decision.waiting)
        for run in decision.launch:
            self.instance.claim(run)
            self.workers[run.run_id] = launch_worker(run, self.instance.home, self.instance.database_url,
                                                     self.instance.home / "logs")
            report.launched.append(run.run_id)

    def close(self, timeout: float = 30) -> None:
        """Wait for the workers this daemon started (they outlive it otherwise, by design)."""
        deadline = time.monotonic() + timeout
        for proc in self.workers.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._reap_workers()

    def _reap_workers(self) -> None:
        """A worker that exited before its run ended failed to report: say so, with its exit code."""
        for run_id, proc in list(self.workers.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.workers[run_id]
            run = self.instance.store.get_run(run_id)
            if run is not None and not run.status.is_terminal:
                log_file = self.instance.home / "logs" / f"{run_id}.log"
                tail = _tail(log_file)
                self.instance.store.write([RunFinished(
                    run_id=run_id, timestamp=self.clock(), status=RunStatus.FAILED,
                    reason=f"its worker process exited with code {code} before finishing the run" +
                           (f": {tail}" if tail else ""))])


def thin_explanations(explanations: dict[str, Any], requested: Any) -> dict[str, Any]:
    """Full trees for requested assets; the top of the tree for the rest.

    A full tree for each of 10,000 assets is ~11 MB of JSON per tick; the top level still
    answers "why not?" in one line, and requested assets keep every detail.
    """
    wanted = {str(k) for k in requested}
    out: dict[str, Any] = {}
    for key, expl in explanations.items():
        if key in wanted or len(explanations) <= 200:
            out[key] = expl
        else:
            tree = expl.get("tree", {})
            out[key] = {"requested": expl.get("requested", False),
                        "tree": {k: tree.get(k) for k in ("label", "value", "detail")} | {"children": []}}
    return out


def _tail(path: Any, limit: int = 500) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


def parse_evaluations(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if isinstance(raw, str) else dict(raw or {})
