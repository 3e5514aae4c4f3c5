"""How a multiprocess worker is started: forked from the coordinator, or spawned afresh.

A spawned worker is a new interpreter that imports Headwater and loads the project again:
~0.45 s of CPU per worker before its first step, most of a 1,000-asset run's cost. A forked
worker inherits both, already loaded (copy-on-write), and only opens its own store.

Forking is only safe from a process that has one thread: a lock another thread holds at that
moment (a stdout buffer being written, a SQLite transaction half done) stays held forever in
the child. The coordinator starts its pool before its own threads (run heartbeat, cancel
watch), so ``auto`` forks then; a worker replaced mid-run, or a pool started by the web
server or by a process that already runs threads, is spawned instead. macOS is left to
spawn: its system libraries are not fork-safe (Python's own default there since 3.8).

``HEADWATER_WORKER_START`` overrides the choice: ``fork``, ``spawn`` or ``auto`` (the
default). ``spawn`` is the choice for a project whose import opens what cannot be shared
between processes (a connection made at import time, a resource object holding a socket):
a forked worker inherits that object, spawned ones each make their own. Definitions given
in memory without a location can only be forked: a fresh interpreter could not find them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading

from headwater.errors import HeadwaterError

ENV = "HEADWATER_WORKER_START"
CHOICES = ("auto", "fork", "spawn")


def requested(given: str | None = None) -> str:
    """The start method asked for: ``given`` (an executor option), else the environment, else auto."""
    value = (given or os.environ.get(ENV) or "auto").strip().lower()
    if value not in CHOICES:
        where = f"{ENV}={value!r}" if not given else f"start method {given!r}"
        raise HeadwaterError(f"{where}: choose one of {', '.join(CHOICES)}")
    return value


def fork_is_safe_here() -> bool:
    """This platform forks cleanly and this process has no other thread running now."""
    return can_fork() and threading.active_count() == 1


def can_fork() -> bool:
    return sys.platform != "darwin" and "fork" in mp.get_all_start_methods()


def choose(wanted: str, can_spawn: bool) -> str:
    """``fork`` or ``spawn`` for the worker about to start (decided anew for each one)."""
    if wanted == "spawn" and can_spawn:
        return "spawn"
    if wanted == "fork" and can_fork():
        return "fork"
    if fork_is_safe_here() or not can_spawn:
        return "fork"
    return "spawn"
