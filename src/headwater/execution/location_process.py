"""A code location's long-lived process, seen from the side that talks to it.

The protocol is JSON lines over the child's stdin and stdout, one message a line:

* child → parent, once, when it has loaded: ``{"op": "loaded", "ok": true, "data": {...},
  "files": [[path, size, mtime_ns], ...], "pid": ...}`` — the definitions as data
  (``definitions/definitions_data.py``) and the source files they came from (the cache
  key); or ``{"op": "loaded", "ok": false, "error": ..., "traceback": ...}`` and it exits.
* parent → child: ``{"op": "step", "id": N, "store": URL, "values": {...}, "request": R}``;
  child → parent: ``{"op": "outcome", "id": N, "outcome": O}``. ``R`` and ``O`` are a
  ``StepRequest`` and a ``StepOutcome`` (plain dataclasses of Headwater's own) pickled and
  base64-encoded: both ends run the same Headwater, and the child writes the step's events
  to the store itself, exactly as a multiprocess worker does.
* parent → child: ``{"op": "stop"}`` (or end of input): the child exits.

The child keeps the user's stdout away from the protocol (its prints go to stderr).
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from headwater.core.events import ErrorInfo
from headwater.errors import HeadwaterError
from headwater.execution.requests import StepOutcome, StepRequest

SERVER_MODULE = "headwater.service.location_server"


def pack(obj: Any) -> str:
    return base64.b64encode(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def unpack(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))  # noqa: S301 - our own child, same Headwater


@dataclass
class LoadReport:
    """What a location's process said when it started."""

    ok: bool
    data: dict[str, Any] | None = None
    files: list[list[Any]] = field(default_factory=list)
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0


class LocationProcess:
    """One location's interpreter, started with ``python -m headwater.service.location_server``."""

    def __init__(self, name: str, python: str, config: dict[str, Any], working_dir: str,
                 threads: int = 4) -> None:
        self.name = name
        self.python = python
        self._outcomes: queue.Queue[tuple[int, StepOutcome]] | None = None
        self._pending: dict[int, StepRequest] = {}
        self._lock = threading.Lock()
        self._next = 0
        self.started = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                [python, "-m", SERVER_MODULE, json.dumps({**config, "threads": threads})],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, cwd=working_dir,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, bufsize=0)
        except OSError as exc:
            raise HeadwaterError(f"code location {name!r}: cannot start its interpreter {python}: {exc}") from None
        self._reader: threading.Thread | None = None

    def wait_loaded(self, timeout: float | None = None) -> LoadReport:
        """The child's first message (its definitions, or why it could not load them)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        seconds = time.perf_counter() - self.started
        if not line:
            code = self.proc.wait()
            self._close_pipes()
            return LoadReport(False, error=f"its process ended before reporting (exit code {code}); is headwater "
                                           f"importable by {self.python}?", seconds=seconds)
        message = orjson.loads(line)
        if not message.get("ok"):
            self.proc.wait()
            self._close_pipes()
            return LoadReport(False, error=message.get("error", "unknown error"),
                              traceback=message.get("traceback", ""), seconds=seconds)
        return LoadReport(True, message["data"], message.get("files", []), seconds=seconds)

    def attach(self, outcomes: queue.Queue[tuple[int, StepOutcome]]) -> None:
        """Send this process's step outcomes to ``outcomes`` (an executor's inbox)."""
        self._outcomes = outcomes
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name=f"location-{self.name}", daemon=True)
            self._reader.start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send_step(self, request: StepRequest, store_url: str, values: dict[str, Any]) -> None:
        with self._lock:
            self._next += 1
            n = self._next
            self._pending[n] = request
        self._send({"op": "step", "id": n, "store": store_url, "values": values, "request": pack(request)})

    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reader sees the end of the process and fails what was pending

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            if message.get("op") != "outcome":
                continue
            with self._lock:
                self._pending.pop(message["id"], None)
            if self._outcomes is not None:
                self._outcomes.put((message["id"], unpack(message["outcome"])))
        code = self.proc.wait()
        with self._lock:
            lost, self._pending = list(self._pending.values()), {}
        for request in lost:  # the process died mid-step: the coordinator records the failure
            if self._outcomes is not None:
                self._outcomes.put((0, StepOutcome(
                    request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                    error=ErrorInfo(f"the process of code location {self.name!r} ended (exit code {code}) while "
                                    f"running step {request.step_key}", "LocationProcessDied"),
                    recorded=False)))

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self._send({"op": "stop"})
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


def default_python() -> str:
    return sys.executable
