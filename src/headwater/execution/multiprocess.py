"""Run steps in a pool of worker processes, each of which loads the definitions itself.

A worker receives ``StepRequest``s (plain data) over a pipe — up to ``AHEAD`` at a time, sent
while it is still busy so that it never waits for the coordinator between short steps —,
runs them with the same ``execute_step`` as the in-process executor, stores their events
in the shared store, a group of consecutive steps per transaction, and sends back their
outcomes once stored (``worker_steps.py``). The pool is ours rather than ``concurrent.futures`` because
a step past its timeout, or a worker that dies (segfault, OOM kill), must cost one
worker — killed and replaced — not the whole pool.

Liveness, three ways (each found missing under a fault campaign, issue 17):

* a worker that died while idle is replaced before a step is sent to it: a step is never
  written into a dead pipe (that used to end ``materialize`` with no message and the run
  left ``started``);
* a worker that died mid-step is seen through its process sentinel; what became of each
  step it held (running, ended but not stored, not begun) is read from counters it keeps in
  shared memory (``_worker_lost``);
* a worker that is alive but hung (stopped, deadlocked, stuck in the kernel) is seen
  through its heartbeat: a thread in the worker stamps a shared clock every
  ``HEARTBEAT_EVERY`` seconds, and a busy worker whose stamp is older than
  ``heartbeat_timeout`` is killed, its step failed naming the asset that hung.

Workers are forked when that is safe, spawned otherwise (``worker_start.py`` decides, per
worker). A forked worker takes the coordinator's loaded definitions as they are and first
lets go of what it inherited but does not own: the coordinator's ends of every worker pipe
(its own included: held open in the child, they would hide the coordinator's death from
the worker, which waits for EOF) and, through ``after_fork``, the coordinator's database
connections, which it never uses. The coordinator freezes its objects out of the garbage
collector's reach for the fork, so a worker's collections neither walk nor finalize them.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from typing import Any

from headwater.core.events import ErrorInfo
from headwater.errors import HeadwaterError
from headwater.execution.executor import timed_out
from headwater.execution.requests import StepOutcome, StepRequest
from headwater.execution.worker_start import choose, fork_is_safe_here, requested
from headwater.execution.worker_steps import WorkerProgress, serve


@dataclass(frozen=True)
class WorkerBootstrap:
    """How a worker builds what it needs; factories must be picklable (module-level functions
    or ``functools.partial`` of them) when the start method is spawn.

    ``loaded``: the coordinator's definitions, which a forked worker uses as they are instead
    of loading them again. ``after_fork``: what a forked worker calls first, to let go of what
    it inherited (the coordinator's database connections). ``spawnable``: whether
    ``load_definitions`` works in a fresh interpreter (not for definitions made in memory)."""

    load_definitions: Callable[[], Any]
    open_store: Callable[[], Any]
    open_values: Callable[[], Any]
    loaded: Any = None
    after_fork: Callable[[], None] | None = None
    spawnable: bool = True


HEARTBEAT_EVERY = 1.0
DEFAULT_HEARTBEAT_TIMEOUT = 120.0
"""Generous: a step in C code that holds the GIL for minutes also stops the beat."""


def _beat(beat: Any) -> None:
    """Stamp ``beat`` with the monotonic clock (shared by the processes of one machine)."""
    while True:
        beat.value = time.monotonic()
        time.sleep(HEARTBEAT_EVERY)


def _worker_main(conn: Connection, boot: WorkerBootstrap, beat: Any = None,
                 inherited: tuple[Connection, ...] = (), forked_alone: bool = False,
                 progress: WorkerProgress | None = None) -> None:
    # Ctrl-C in a terminal reaches the whole process group; only the coordinator decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # forked: a handler of the coordinator's (daemon) is not ours
    for end in inherited:  # forked: the coordinator's pipe ends, not ours to hold open
        end.close()
    if beat is not None:
        threading.Thread(target=_beat, args=(beat,), name="headwater-heartbeat", daemon=True).start()
    try:
        if forked_alone and boot.after_fork is not None:
            boot.after_fork()  # only from a one-thread parent: no transaction was half done
        defs = boot.loaded if boot.loaded is not None else boot.load_definitions()
        store = boot.open_store()
        values = boot.open_values()
    except BaseException as exc:  # noqa: BLE001 - reported to the coordinator verbatim
        conn.send(("error", f"{exc}\n{getattr(exc, 'user_traceback', '') or traceback.format_exc()}"))
        return
    conn.send(("ready", os.getpid()))
    try:
        serve(conn, defs, store, values, progress or _progress(mp.get_context()))
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


def _progress(ctx: Any) -> WorkerProgress:
    return WorkerProgress(*(ctx.Value("q", 0, lock=False) for _ in range(4)), ctx.Value("d", 0.0, lock=False))


AHEAD_BYTES = 16_384
"""Bytes at most sent at once to a busy worker (a pipe holds ~200 KB each way; ``AHEAD`` such
messages fit in it)."""
AHEAD = 8
"""Steps a worker holds at most (the one it runs and those sent ahead): enough to keep it busy
through a round trip to the coordinator, few enough that the last steps of a wave are not
left queued behind one worker while another idles (each is a no-op-sized step: a step that
runs long gives the others back, ``worker_steps.py``)."""


@dataclass
class _Worker:
    process: Any
    conn: Connection
    beat: Any = None  # a shared double: the worker's last heartbeat (time.monotonic)
    progress: WorkerProgress | None = None
    # Steps sent and not reported, by sequence number, in the order sent (the worker's order).
    sent: dict[int, StepRequest] = field(default_factory=dict)
    started: float = 0.0  # when it last showed progress: sent work while idle, or reported
    long: int = 0  # the step it said runs long (nothing is sent ahead until it ends)

    def silent_for(self, now: float) -> float:
        return now - max(self.beat.value, self.started)

    def accepts(self) -> bool:
        return not self.sent or (len(self.sent) < AHEAD and not self.long)

    def running(self) -> tuple[int, StepRequest, float] | None:
        """The step it runs now, if any: its number, request and since when (``time.monotonic``).
        ``begun_at`` is set before ``begun``: read after it, it is that step's start or a later
        one's (a timeout seen late, never early)."""
        assert self.progress is not None
        seq = self.progress.begun.value
        if seq <= self.progress.ended.value or seq not in self.sent:
            return None
        return seq, self.sent[seq], self.progress.begun_at.value


class MultiprocessExecutor:
    name = "multiprocess"

    def __init__(self, boot: WorkerBootstrap, workers: int, start_method: str | None = None,
                 heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT) -> None:
        """``start_method``: ``auto``, ``fork`` or ``spawn`` (None: ``HEADWATER_WORKER_START``,
        else auto); see ``worker_start.py``."""
        if workers < 1:
            raise HeadwaterError(f"--workers must be at least 1 (got {workers})")
        self.capacity = workers
        self.heartbeat_timeout = heartbeat_timeout
        self._boot = boot
        self._wanted = requested(start_method)
        self.start_methods: list[str] = []  # how each worker so far was started, for tests and figures
        self._workers: list[_Worker] = []
        self._queue: deque[StepRequest] = deque()
        self._numbers = itertools.count(1)
        self._rerun: set[tuple[str, int]] = set()  # (step, attempt)s sent again after their worker died
        for _ in range(workers):
            self._workers.append(self._spawn())
        for w in self._workers:
            self._await_ready(w)

    def _spawn(self) -> _Worker:
        method = choose(self._wanted, self._boot.spawnable)
        self.start_methods.append(method)
        ctx = mp.get_context(method)
        parent, child = ctx.Pipe()
        beat = ctx.Value("d", time.monotonic(), lock=False)
        progress = _progress(ctx)
        if method == "fork":
            ends = (parent, *(w.conn for w in self._workers if not w.conn.closed))
            args = (child, self._boot, beat, ends, fork_is_safe_here(), progress)
            proc = ctx.Process(target=_worker_main, args=args, daemon=True, name="headwater-worker")
            frozen = gc.get_freeze_count() == 0  # (a caller's own freeze is left as it is)
            if frozen:  # the child's collector then never walks (nor finalizes) what it inherited
                gc.freeze()
            try:
                proc.start()
            finally:
                if frozen:
                    gc.unfreeze()
        else:
            _stop_resource_tracker_at_exit()
            boot = dataclasses.replace(self._boot, loaded=None, after_fork=None)
            proc = ctx.Process(target=_worker_main, args=(child, boot, beat, (), False, progress), daemon=True,
                               name="headwater-worker")
            proc.start()
        child.close()
        return _Worker(proc, parent, beat, progress)

    def _await_ready(self, worker: _Worker) -> None:
        try:
            kind, payload = worker.conn.recv()
        except EOFError:
            self.close()
            raise HeadwaterError(
                f"a worker process exited while starting (exit code {worker.process.exitcode})") from None
        if kind == "error":
            self.close()
            raise HeadwaterError(f"a worker process could not load the definitions: {payload}")

    def submit(self, request: StepRequest) -> None:
        """Queued; sent at the next ``poll``, with the others submitted meanwhile (one message
        per worker)."""
        self._queue.append(request)

    def _dispatch(self) -> None:
        """Hand out the queue in order, each step to the worker holding fewest: an idle worker
        takes any, a busy one takes steps ahead (``AHEAD``) unless its step runs long."""
        if not self._queue:
            return
        for i, w in enumerate(self._workers):
            if not w.sent and not w.process.is_alive():  # died while idle (OOM killer, kill -9): replace it
                self._replace(i)
        batches: dict[int, list[tuple[int, StepRequest]]] = {}
        ahead: set[int] = {i for i, w in enumerate(self._workers) if w.sent}  # busy: what they get waits
        now = time.monotonic()
        while self._queue:
            request = self._queue[0]
            best: _Worker | None = None
            index = -1
            for i, w in enumerate(self._workers):
                if w.accepts() and (best is None or len(w.sent) < len(best.sent)):
                    best, index = w, i
            if best is None:
                break
            self._queue.popleft()
            seq = next(self._numbers)
            if not best.sent:
                best.started = now
            best.sent[seq] = request
            batches.setdefault(index, []).append((seq, request))
        kept_back: list[tuple[int, StepRequest]] = []
        for i, batch in batches.items():
            data = ForkingPickler.dumps(batch)
            if i in ahead and len(data) > AHEAD_BYTES:
                # A busy worker reads its pipe only between steps: what is sent ahead stays small,
                # so that the coordinator never blocks writing to a worker that blocks writing to it.
                for seq, _ in batch:
                    del self._workers[i].sent[seq]
                kept_back.extend(batch)
                continue
            self._send(i, batch, data)
        self._queue.extendleft(request for _, request in sorted(kept_back, key=lambda item: item[0], reverse=True))

    def _send(self, index: int, batch: list[tuple[int, StepRequest]], data: Any) -> None:
        w = self._workers[index]
        try:
            w.conn.send_bytes(data)
            return
        except (BrokenPipeError, EOFError, OSError):  # it died since: its earlier steps are poll's
            for seq, _ in batch:
                del w.sent[seq]
            self._queue.extendleft(request for _, request in reversed(batch))
            if w.sent:
                return
        self._replace(index)  # died between the check and the send: once more, to a fresh worker
        w = self._workers[index]
        requests = [self._queue.popleft() for _ in batch]
        try:
            w.conn.send(batch)
        except (BrokenPipeError, EOFError, OSError):
            self._queue.extendleft(reversed(requests))
            raise HeadwaterError(
                f"could not hand step {batch[0][1].step_key} to a worker process: two fresh workers "
                f"died at once (exit code {w.process.exitcode})") from None
        w.started = time.monotonic()
        w.sent.update(batch)

    def in_flight(self) -> int:
        return len(self._queue) + sum(len(w.sent) for w in self._workers)

    def poll(self, timeout: float | None) -> list[StepOutcome]:
        self._dispatch()
        busy = [w for w in self._workers if w.sent]
        if not busy:
            if timeout:
                time.sleep(timeout)
            return []
        now = time.monotonic()
        # Wake up in time to look at the heartbeats, whatever the caller's timeout.
        check_every = max(0.05, min(HEARTBEAT_EVERY, self.heartbeat_timeout / 4))
        wait_for = check_every if timeout is None else min(timeout, check_every)
        for w in busy:
            timeouts = [r.timeout for r in w.sent.values() if r.timeout is not None]
            if not timeouts:
                continue
            # A held step that begins meanwhile tells nobody: look again within a tenth of its time.
            wait_for = min(wait_for, max(0.01, min(timeouts) / 10))
            running = w.running()
            if running is not None and running[1].timeout is not None:
                wait_for = min(wait_for, max(0.0, running[2] + running[1].timeout - now))
        handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait(handles, wait_for))
        outcomes: list[StepOutcome] = []
        for i, w in enumerate(self._workers):
            if not w.sent:
                continue
            died = w.process.sentinel in ready
            if w.conn in ready or died:
                try:
                    while w.conn.poll():  # all it sent before it died counts: stored and reported
                        self._take(w, w.conn.recv(), outcomes)
                except (EOFError, OSError):
                    died = True
            if died:
                w.process.join(1)
                self._worker_lost(i, outcomes, f"died (exit code {w.process.exitcode})", "WorkerDied")
                continue
            if not w.sent:
                continue
            now = time.monotonic()
            running = w.running()
            if running is not None and running[1].timeout is not None and now - running[2] >= running[1].timeout:
                seq, request, began = running
                self._worker_lost(i, outcomes, f"was killed ({_what(request)} ran past its timeout)", "WorkerKilled",
                                  (seq, timed_out(request, now - began)))
                continue
            silent = w.silent_for(now)
            if silent > self.heartbeat_timeout:
                self._worker_lost(i, outcomes, f"hung: no heartbeat for {silent:.0f} s (pid {w.process.pid}, killed)",
                                  "WorkerHung")
        self._dispatch()
        return outcomes

    def _take(self, w: _Worker, message: Any, outcomes: list[StepOutcome]) -> None:
        kind = message[0]
        if kind == "done":
            for seq, outcome in message[1]:
                w.sent.pop(seq, None)
                outcomes.append(outcome)
                if seq == w.long:
                    w.long = 0
            w.started = time.monotonic()
        elif kind == "returned":  # it runs a long step: the steps it had not begun go elsewhere
            _, seq, items = message
            if seq in w.sent:
                w.long = seq
            for s, _ in items:
                w.sent.pop(s, None)
            self._queue.extendleft(request for _, request in reversed(items))

    def _worker_lost(self, index: int, outcomes: list[StepOutcome], what: str, kind: str,
                     late: tuple[int, StepOutcome] | None = None) -> None:
        """A worker died or hung with steps unreported. From its progress counters: the step it
        was running fails (as it always did, naming it); a step whose end is stored, or was
        being stored, but was not reported fails too (the coordinator cannot know its outcome:
        its end may be stored, then this failure after it; never a second success); a step
        that ended but whose end was not being stored runs again (nothing of its end is
        stored, nobody was told of it), once; a step not begun is sent to another worker.
        ``late``: the worker was killed because a step ran past its timeout; that step's
        number and outcome (timed out, whatever the counters say since)."""
        w = self._workers[index]
        _kill(w.process)
        assert w.progress is not None
        p = w.progress
        begun, ended, stored, storing = p.begun.value, p.ended.value, p.stored.value, p.storing.value
        again: list[StepRequest] = []
        elapsed = time.monotonic() - w.started
        for seq, request in w.sent.items():
            if late is not None and seq == late[0]:
                outcomes.append(late[1])
                continue
            if seq > begun:
                again.append(request)
                continue
            key = (request.step_key, request.attempt)
            if max(stored, storing) < seq <= ended and key not in self._rerun:
                self._rerun.add(key)
                again.append(request)
                continue
            if seq <= stored:
                message = f"the worker process that ran {_what(request)} {what} after it stored the step's end, " \
                          "before it reported it"
            elif seq <= storing:
                message = f"the worker process that ran {_what(request)} {what} while it stored the step's end"
            else:
                message = f"the worker process running {_what(request)} {what}"
            outcomes.append(StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                                        error=ErrorInfo(message, kind), duration=elapsed, recorded=False))
        w.sent.clear()
        self._queue.extendleft(reversed(again))
        self._replace(index)

    def _replace(self, index: int) -> None:
        old = self._workers[index]
        _kill(old.process)
        old.conn.close()
        new = self._spawn()
        self._workers[index] = new
        self._await_ready(new)

    def cancel(self) -> None:
        self._queue.clear()
        for w in self._workers:
            if w.sent:
                _kill(w.process)
                w.sent.clear()
                w.long = 0

    def close(self) -> None:
        for w in self._workers:
            if w.process.is_alive():
                try:
                    w.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
        deadline = time.monotonic() + 5
        for w in self._workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                _kill(w.process)
            w.conn.close()
        self._workers = []


_TRACKER_STOP_REGISTERED = False


def _stop_resource_tracker_at_exit() -> None:
    """Starting a process by spawn also starts multiprocessing's resource tracker, a helper
    process that outlives ours: it only notices our exit when its pipe closes, by which time
    its parent is gone, so it is re-parented to PID 1, and where PID 1 does not reap (a
    container's init) it stays a zombie. Stopping it ourselves at exit waits for it, so
    nothing is left behind. At exit, not at ``close``: another executor of this process (the
    web server runs several) may still be using it."""
    global _TRACKER_STOP_REGISTERED
    if _TRACKER_STOP_REGISTERED:
        return
    _TRACKER_STOP_REGISTERED = True
    import atexit

    atexit.register(_stop_resource_tracker)


def workers_started() -> bool:
    """Whether this process started worker processes (whose clean-up runs at exit)."""
    return _TRACKER_STOP_REGISTERED


def _stop_resource_tracker() -> None:
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # CPython 3.11+: closes its pipe, waits
    if stop is not None:
        try:
            stop()
        except Exception:  # noqa: BLE001 - at exit, a tracker that will not stop must not hide the real outcome
            pass


def _what(request: StepRequest) -> str:
    keys = ", ".join(str(k) for k in request.asset_keys)
    return f"step {request.step_key}" if keys == request.step_key else f"step {request.step_key} ({keys})"


def _kill(process: Any) -> None:
    if process.is_alive():
        process.terminate()
        process.join(2)
    if process.is_alive():
        process.kill()
        process.join(2)
