"""Running one dbt command in a child process and reading its structured events as they come.

The child (``dbt_child.py``) runs dbt through ``dbtRunner`` with a callback that forwards
the events asked for (``NodeFinished`` with the node's run result, ...) as JSON lines on a
pipe of their own, so Headwater learns that a model finished the moment dbt does, without
importing dbt here and without making dbt format its debug log for us. dbt's own console
output is read too, and its tail explains a failure dbt reported no event for.

A child process (rather than ``dbtRunner`` in this process) is what makes cancelling
possible: stopping sends dbt SIGINT — dbt's own Ctrl-C, which cancels the queries it has
open — then kills it if it does not exit. The child also watches its parent and stops
itself if the parent dies (a worker killed by the coordinator), so no dbt is orphaned.

Where it can (``fork_server.py``: Linux and the like, ``HEADWATER_DBT_SERVER``), the child
is forked from a server process that imported dbt once, instead of a fresh interpreter that
imports it again for every command; the events, the output, the exit code and the way to
stop it are the same either way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from headwater.errors import HeadwaterError
from headwater.integrations.dbt import fork_server
from headwater.integrations.dbt.fork_server import ForkedCommand

CHILD = str(Path(__file__).with_name("dbt_child.py"))
STOP_GRACE = 10.0  # seconds dbt gets to cancel its queries after SIGINT


class DbtCommandError(HeadwaterError):
    """A dbt command could not do its work; carries dbt's own error messages."""


@dataclass(frozen=True, slots=True)
class DbtEvent:
    """One structured dbt event: ``name`` (e.g. ``NodeFinished``), ``level``, ``msg``, ``data``."""

    name: str
    level: str
    msg: str
    data: Mapping[str, Any]
    invocation_id: str
    ts: str

    @property
    def node_info(self) -> Mapping[str, Any]:
        return self.data.get("node_info") or {}

    @property
    def unique_id(self) -> str | None:
        return self.node_info.get("unique_id") or self.data.get("unique_id")


def dbt_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    env.setdefault("DBT_USE_COLORS", "False")
    env["PYTHONUNBUFFERED"] = "1"  # events must arrive as they happen, not in 8 KiB chunks
    env.update(extra or {})
    return env


class DbtInvocation:
    """``with DbtInvocation([...]) as run: for event in run.events(): ...``

    Leaving the ``with`` block early (an exception, a cancelled run, a generator closed)
    stops dbt. ``errors`` collects the messages of dbt's error-level events.
    """

    def __init__(self, args: Sequence[str], cwd: str | Path, *, env: Mapping[str, str] | None = None,
                 wanted: Iterable[str] = (), python: str | None = None) -> None:
        self.args = list(args)
        self.cwd = Path(cwd)
        self.wanted = frozenset(wanted)
        self.env = dbt_environment(env)
        # MainReportVersion opens every invocation: it brings the invocation id.
        self.env["HEADWATER_DBT_EVENTS"] = ",".join(sorted(self.wanted | {"MainReportVersion"}))
        self.python = python or sys.executable
        self.errors: list[str] = []
        self.invocation_id: str | None = None
        self.returncode: int | None = None
        self._output: deque[str] = deque(maxlen=40)
        self._proc: subprocess.Popen[str] | ForkedCommand | None = None
        self._output_thread: threading.Thread | None = None
        self._events_thread: threading.Thread | None = None
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._events_pipe: IO[str] | None = None
        self._eof = False

    @property
    def command(self) -> str:
        return "dbt " + " ".join(self.args)

    def __enter__(self) -> DbtInvocation:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.stop()
        self._finish()

    def start(self) -> None:
        if self.python == sys.executable and importlib.util.find_spec("dbt") is None:
            raise DbtCommandError(f"cannot run {self.command}: dbt-core is not installed in this environment "
                                  "(pip install 'headwater[dbt]' and your adapter, e.g. dbt-duckdb)")
        if fork_server.enabled():
            server = fork_server.server_for(self.python, _base(self.env))
            forked = server.run(self.args, self.env_events(), self.cwd, self.env) if server is not None else None
            if forked is not None:
                self._proc, self._events_pipe = forked, forked.events
                self._start_readers()
                return
        warm = _adopt(self.python, self.cwd, self.env)
        if warm is not None:
            self._proc, self._events_pipe = warm
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"args": self.args, "events": sorted(self.env_events())}) + "\n")
            self._proc.stdin.close()
            self._start_readers()
            return
        read_end, write_end = os.pipe()
        env = {**self.env, "HEADWATER_DBT_EVENT_FD": str(write_end)}
        try:
            self._proc = subprocess.Popen(
                [self.python, CHILD, *self.args], cwd=self.cwd, env=env, text=True, pass_fds=(write_end,),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            os.close(read_end)
            raise DbtCommandError(f"could not start {self.command}: {exc}") from exc
        finally:
            os.close(write_end)
        self._events_pipe = os.fdopen(read_end, "r")
        self._start_readers()

    def env_events(self) -> list[str]:
        return self.env["HEADWATER_DBT_EVENTS"].split(",")

    def _start_readers(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        self._output_thread = threading.Thread(target=_drain, args=(self._proc.stdout, self._output),
                                               name="headwater-dbt-output",
                                               daemon=True)
        self._output_thread.start()
        # Events are read by a thread of their own, so dbt never waits on a full pipe while
        # the consumer of ``events()`` is busy (writing a materialization to the store, say).
        self._events_thread = threading.Thread(target=self._read_events, name="headwater-dbt-events", daemon=True)
        self._events_thread.start()

    def _read_events(self) -> None:
        assert self._events_pipe is not None
        try:
            for line in self._events_pipe:
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        finally:
            self._lines.put(None)

    def events(self) -> Iterator[DbtEvent]:
        """The wanted events (and every error-level one), as dbt writes them."""
        if self._proc is None:
            raise RuntimeError("start the invocation first")
        while not self._eof:
            try:
                line = self._lines.get(timeout=1.0)  # a timeout keeps Ctrl-C deliverable
            except queue.Empty:
                continue
            if line is None:
                self._eof = True
                break
            try:
                raw = json.loads(line)
            except ValueError:
                continue
            info = raw.get("info") or {}
            event = DbtEvent(name=info.get("name", ""), level=info.get("level", ""), msg=info.get("msg", ""),
                             data=raw.get("data") or {}, invocation_id=info.get("invocation_id", ""),
                             ts=info.get("ts", ""))
            self.invocation_id = self.invocation_id or event.invocation_id
            if event.level == "error" and event.msg:
                self.errors.append(event.msg.strip())
            if event.name in self.wanted or event.level == "error":
                yield event
        self._finish()

    def wait(self) -> int:
        """Read to the end (discarding events) and return dbt's exit code."""
        for _ in self.events():
            pass
        self._finish()
        assert self.returncode is not None
        return self.returncode

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Ask dbt to stop as Ctrl-C would (it cancels its open queries); kill it if it will not."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def _finish(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.wait()
        if self._events_thread is not None:
            self._events_thread.join(5)
        if self._events_pipe is not None:
            self._events_pipe.close()
        if self._output_thread is not None:
            self._output_thread.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
        if isinstance(proc, ForkedCommand) and proc.lost:
            self._output.append("headwater's dbt server ended before this dbt command did")
        self.returncode = proc.returncode

    def failure(self, what: str) -> DbtCommandError:
        """An error saying ``what`` failed, with dbt's own messages (or the tail of its output)."""
        detail = "\n".join(self.errors[-10:]) or "\n".join(self._output) or "no error message"
        return DbtCommandError(f"{what}: `{self.command}` exited with code {self.returncode}\n{detail}")


# -- a dbt child started ahead of time ---------------------------------------------------------

_WARM: dict[tuple[str, str], tuple[subprocess.Popen[str], IO[str], dict[str, str]]] = {}
_WARM_LOCK = threading.Lock()
_PER_RUN = ("HEADWATER_DBT_EVENTS", "HEADWATER_DBT_EVENT_FD", "HEADWATER_DBT_WAIT")


def prewarm(cwd: str | Path, env: Mapping[str, str] | None = None, python: str | None = None) -> None:
    """Start a dbt child now that imports dbt and then waits for its command, so the next
    ``DbtInvocation`` in ``cwd`` with the same environment starts with dbt already imported
    (dbt's import takes about as long as Headwater's own start-up and planning). Unused,
    it exits with this process (its stdin closes)."""
    python = python or sys.executable
    if python == sys.executable and importlib.util.find_spec("dbt") is None:
        return
    if fork_server.enabled():  # the server imports dbt now; every later command forks from it
        fork_server.server_for(python, _base(dbt_environment(env)))
        return
    key = (python, str(Path(cwd)))
    with _WARM_LOCK:
        if key in _WARM and _WARM[key][0].poll() is None:
            return
        base = dbt_environment(env)
        read_end, write_end = os.pipe()
        try:
            proc = subprocess.Popen(
                [python, CHILD], cwd=cwd, env={**base, "HEADWATER_DBT_EVENT_FD": str(write_end),
                                               "HEADWATER_DBT_WAIT": "1"},
                text=True, pass_fds=(write_end,), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT)
        except OSError:
            os.close(read_end)
            return
        finally:
            os.close(write_end)
        _WARM[key] = (proc, os.fdopen(read_end, "r"), base)


def discard_warm() -> None:
    """Stop every dbt child started ahead that no command used (it exits on an empty command).
    A fork server stays for the next commands: it stops at the interpreter's exit."""
    with _WARM_LOCK:
        warm = list(_WARM.values())
        _WARM.clear()
    for proc, pipe, _ in warm:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        pipe.close()


def forget_warm_in_child() -> None:
    """In a forked child: drop the dbt children started ahead by the parent, closing only our
    copies of their pipes (the parent still owns them: it may adopt one, or stop it by closing
    its stdin, which the child's copy would hold open). The parent's fork servers are shared
    (``fork_server.forget_in_child``, run at every fork)."""
    global _WARM_LOCK
    _WARM_LOCK = threading.Lock()  # whoever held it at the fork is not in this process
    warm = list(_WARM.values())
    _WARM.clear()
    for proc, pipe, _ in warm:
        for stream in (proc.stdin, proc.stdout, pipe):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def _adopt(python: str, cwd: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[str], IO[str]] | None:
    """The waiting child for this command, if one was started with the same environment."""
    with _WARM_LOCK:
        found = _WARM.pop((python, str(cwd)), None)
    if found is None:
        return None
    proc, pipe, base = found
    same = {k: v for k, v in env.items() if k not in _PER_RUN} == {k: v for k, v in base.items() if k not in _PER_RUN}
    if proc.poll() is None and same:
        return proc, pipe
    with _WARM_LOCK:
        _WARM[(python, str(cwd))] = (proc, pipe, base)
    discard_warm()
    return None


def _base(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a fork server starts with: a command's, without what is its own."""
    return {k: v for k, v in env.items() if k not in _PER_RUN}


def _drain(stream: IO[str], tail: deque[str]) -> None:
    try:
        for line in stream:
            tail.append(line.rstrip())
    except (OSError, ValueError):
        pass


def run_dbt(args: Sequence[str], cwd: str | Path, *, env: Mapping[str, str] | None = None,
            wanted: Iterable[str] = ()) -> tuple[DbtInvocation, list[DbtEvent]]:
    """Run a dbt command to the end; returns the invocation (exit code, errors) and its events."""
    with DbtInvocation(args, cwd, env=env, wanted=wanted) as inv:
        events = list(inv.events())
    return inv, events
