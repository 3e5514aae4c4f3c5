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
* parent → child: ``{"op": "abandon", "id": N}``: the coordinator gave step ``N`` up (its
  timeout): the child records nothing more for it. Python cannot stop the thread running it,
  so the parent *retires* the process: no new step is sent to it, the workspace starts a
  fresh one, and the old one is killed as soon as the other steps it was running end.
  A step with a timeout is announced by ``{"op": "started", "id": N}`` when a thread of
  the child takes it up: its time runs from then (steps may queue for a thread).
* parent → child: ``{"op": "call", "id": N, "kind": K, "target": T, "args": A, ...}``;
  child → parent: ``{"op": "result", "id": N, "ok": true, "result": R}`` or
  ``{"op": "result", "id": N, "ok": false, "type": ..., "error": ..., "traceback": ...}``:
  a user function other than a step run where it lives — a sensor's function (``K`` =
  ``"sensor"``, ``T`` its name) or a source's observe function (``"observe"``, ``T`` the
  source's key). ``A`` and ``R`` are pickled like steps; an error travels as text (its
  class may exist only in the location's environment).
* parent → child: ``{"op": "stop"}`` (or end of input): the child exits.

The child keeps the user's stdout away from the protocol (its prints go to stderr).
"""

from __future__ import annotations

import base64
import concurrent.futures
import copyreg
import io
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from headwater.core.events import ErrorInfo
from headwater.errors import HeadwaterError
from headwater.execution.requests import StepOutcome, StepRequest

SERVER_MODULE = "headwater.service.location_server"


def _proxy(data: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(data)


class _Pickler(pickle.Pickler):
    """Pickles read-only mappings (the metadata of stored events, which a sensor's context
    carries) as the dicts they wrap, and rebuilds them read-only."""

    dispatch_table = {**copyreg.dispatch_table, MappingProxyType: lambda m: (_proxy, (dict(m),))}


def pack(obj: Any) -> str:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


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


class RemoteCallError(Exception):
    """A user function run in a location's process raised; ``remote_type`` is its class's name
    and ``user_traceback`` the traceback as the location saw it."""

    def __init__(self, remote_type: str, message: str, user_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.user_traceback = user_traceback


def remote_error(remote_type: str, message: str, user_traceback: str) -> RemoteCallError:
    """The error of a remote call as an exception whose class bears the remote class's name,
    so that messages built from ``type(exc).__name__`` read as they do for a local call."""
    cls = type(remote_type if remote_type.isidentifier() else "RemoteError", (RemoteCallError,), {})
    return cls(remote_type, message, user_traceback)


class LocationProcess:
    """One location's interpreter, started with ``python -m headwater.service.location_server``."""

    def __init__(self, name: str, python: str, config: dict[str, Any], working_dir: str,
                 threads: int = 4) -> None:
        self.name = name
        self.python = python
        self._outcomes: queue.Queue[tuple[int, StepOutcome]] | None = None
        self._pending: dict[int, StepRequest] = {}
        self._calls: dict[int, tuple[concurrent.futures.Future[Any], StepRequest | None]] = {}
        self._exit_code: int | None = None  # set by the reader once the process has ended
        self._began: dict[int, float] = {}  # steps with a timeout: when a thread took them up (monotonic)
        self.retiring = False  # a step was abandoned in it: no new work; killed once idle
        self._lock = threading.Lock()
        self._next = 0
        self.started = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                [python, "-m", SERVER_MODULE, json.dumps({**config, "threads": threads})],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, cwd=working_dir,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})  # buffered pipes: see wait_loaded
        except OSError as exc:
            raise HeadwaterError(f"code location {name!r}: cannot start its interpreter {python}: {exc}") from None
        self._reader: threading.Thread | None = None

    def fileno(self) -> int:
        """The pipe the child reports on (to wait for several processes at once)."""
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def wait_loaded(self, timeout: float | None = None) -> LoadReport:
        """The child's first message (its definitions, or why it could not load them).

        The pipes are buffered: an unbuffered pipe's ``readline`` reads one byte per system
        call, and the definitions of 3,000 assets are one line of ~700 KB (a quarter of a
        second of CPU to read them so)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        seconds = time.perf_counter() - self.started
        if not line.endswith(b"\n"):  # nothing, or cut short: it ended (was killed) while reporting
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
        self._start_reader()

    def _start_reader(self) -> None:
        with self._lock:
            if self._reader is None:
                self._reader = threading.Thread(target=self._read, name=f"location-{self.name}", daemon=True)
                self._reader.start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def usable(self) -> bool:
        """Alive, and not retiring: new steps and calls may be sent to it."""
        return not self.retiring and self.alive()

    def send_step(self, request: StepRequest, store_url: str, values: dict[str, Any]) -> int:
        """Send a step whose outcome goes to the attached inbox; returns its id (for ``abandon``)."""
        with self._lock:
            self._next += 1
            n = self._next
            ended = self._exit_code
            if ended is None:
                self._pending[n] = request
        if ended is not None:  # the reader has already failed what was pending: fail this one too
            if self._outcomes is not None:
                self._outcomes.put((n, self._died(request, ended)))
            return n
        self._send({"op": "step", "id": n, "store": store_url, "values": values, "request": pack(request)})
        return n

    def run_step(self, request: StepRequest, store_url: str, values: dict[str, Any]
                 ) -> tuple[int, concurrent.futures.Future[Any]]:
        """Send a step whose outcome comes back on the returned future (a Dask worker waits on it)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        n = self._register(future, request)
        self._send({"op": "step", "id": n, "store": store_url, "values": values, "request": pack(request)})
        return n, future

    def call(self, kind: str, target: str, args: tuple[Any, ...] = ()) -> Any:
        """Run a user function of this location in its process and return its result; its
        exception is raised here as a ``RemoteCallError`` carrying its class name and traceback."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        n = self._register(future, None)
        self._send({"op": "call", "id": n, "kind": kind, "target": target, "args": pack(args)})
        return future.result()

    def _register(self, future: concurrent.futures.Future[Any], request: StepRequest | None) -> int:
        self._start_reader()
        with self._lock:
            self._next += 1
            n = self._next
            ended = self._exit_code
            if ended is None:
                self._calls[n] = (future, request)
        if ended is not None:
            self._fail(future, request, ended)
        return n

    def _fail(self, future: concurrent.futures.Future[Any], request: StepRequest | None, code: int) -> None:
        if request is not None:
            future.set_result(self._died(request, code))
        else:
            future.set_exception(HeadwaterError(f"the process of code location {self.name!r} ended (exit code "
                                                f"{code}) before answering"))

    def began(self, n: int) -> float | None:
        """When a thread of the child took step ``n`` up (``time.monotonic``), or None while it
        waits for one (only steps with a timeout say so)."""
        with self._lock:
            return self._began.get(n)

    def abandon(self, n: int) -> None:
        """The coordinator gave step ``n`` up: the child records nothing more for it, and this
        process retires (killed as soon as it runs nothing else: the abandoned thread cannot
        be stopped any other way)."""
        with self._lock:
            self._pending.pop(n, None)
            self._calls.pop(n, None)
            self._began.pop(n, None)
            self.retiring = True
        self._send({"op": "abandon", "id": n})
        self._kill_if_idle()

    def _kill_if_idle(self) -> None:
        with self._lock:
            idle = self.retiring and not self._pending and not self._calls
        if idle:
            self.kill()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._calls)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process ended (its pipes closed): the reader fails what was pending

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = orjson.loads(line)
            op, n = message.get("op"), message.get("id")
            if op == "started":
                with self._lock:
                    self._began[n] = time.monotonic()
                continue
            if op not in ("outcome", "result"):
                continue
            with self._lock:
                request = self._pending.pop(n, None)
                call = self._calls.pop(n, None)
                self._began.pop(n, None)
            if request is not None and self._outcomes is not None:
                self._outcomes.put((n, unpack(message["outcome"])))
            elif call is not None:
                future = call[0]
                if op == "outcome":
                    future.set_result(unpack(message["outcome"]))
                elif message.get("ok"):
                    future.set_result(unpack(message["result"]))
                else:
                    future.set_exception(remote_error(message.get("type", "Exception"), message.get("error", ""),
                                                      message.get("traceback", "")))
            self._kill_if_idle()
        code = self.proc.wait()
        self._close_pipes()  # the process is gone: nothing more to read or to tell it
        with self._lock:
            self._exit_code = code
            lost, self._pending = list(self._pending.values()), {}
            calls, self._calls = list(self._calls.values()), {}
        for request in lost:  # the process died mid-step: the coordinator records the failure
            if self._outcomes is not None:
                self._outcomes.put((0, self._died(request, code)))
        for future, step in calls:
            self._fail(future, step, code)

    def _died(self, request: StepRequest, code: int) -> StepOutcome:
        return StepOutcome(
            request.step_key, request.attempt, False, failed_keys=request.asset_keys,
            error=ErrorInfo(f"the process of code location {self.name!r} ended (exit code {code}) while "
                            f"running step {request.step_key}", "LocationProcessDied"),
            recorded=False)

    def ask_to_stop(self) -> None:
        """Tell the child to end, without waiting for it (``stop`` then waits): several
        processes end at once, or while this process does something else."""
        if self.proc.poll() is None:
            self._send({"op": "stop"})

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
