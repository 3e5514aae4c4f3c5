"""Running dbt commands as children forked from a process that imported dbt once.

Every dbt command used to start a fresh interpreter (``dbt_child.py``) that spent about a
second of CPU importing dbt before doing anything: 29 % of the test suite's CPU, and for a
backfill of a partitioned dbt model (one ``dbt build`` per window) a second per window. The
fork server (``dbt_server.py``) imports dbt once and forks a child per command; this module
is its caller's side: it starts the server the first time one is needed (or ahead of time,
``prewarm``), keeps one per interpreter and import-time environment, and runs a command
through it as a ``ForkedCommand``, which ``DbtInvocation`` drives like the ``Popen`` of a
``dbt_child.py`` (``poll``, ``wait``, ``send_signal``, ``stdout``, ``returncode``).

What a command gets is what a fresh child would: its own cwd and environment (the request
carries both), its own event pipe and console pipe (passed as file descriptors over the
server's unix socket), and dbt as it was right after its import (each child is forked from
the server, which never runs dbt itself). Only what is read when Python starts or dbt is
imported cannot differ from one command to the next: the interpreter, and the variables
``import_env`` keeps (``PYTHON*``, ``LD_*``, locale, ``TZ``, ``DBT_PACKAGE_HUB_URL``),
which pick the server.

A process forked from the server's owner (a multiprocess worker) shares the owner's server:
it inherits the socket's address, and lets go of the rest (``forget_in_child``, run after
every ``os.fork``). A
process started afresh (a CLI command, a spawned worker) starts its own on its first dbt
command: that first command costs what it did, the next ones a fork.

``HEADWATER_DBT_SERVER`` chooses: ``auto`` (the default) uses the server where forking after
importing dbt is safe — not on macOS, whose system libraries are not fork-safe, nor where
``os.fork`` or ``socket.send_fds`` is missing — and falls back to a fresh child per command
when the server cannot start (dbt missing from that interpreter, a socket path too long);
``off`` always starts a fresh child.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from headwater.errors import HeadwaterError

ENV = "HEADWATER_DBT_SERVER"
CHOICES = ("auto", "off")
SERVER = str(Path(__file__).with_name("dbt_server.py"))
IMPORT_ENV_PREFIXES = ("PYTHON", "LD_", "LC_")
IMPORT_ENV_NAMES = frozenset({"LANG", "TZ", "DBT_PACKAGE_HUB_URL"})


def requested() -> str:
    value = (os.environ.get(ENV) or "auto").strip().lower()
    if value not in CHOICES:
        raise HeadwaterError(f"{ENV}={value!r}: choose one of {', '.join(CHOICES)}")
    return value


def enabled() -> bool:
    """Whether dbt commands go through a fork server here (``HEADWATER_DBT_SERVER``, platform)."""
    return requested() == "auto" and can_fork_dbt()


def can_fork_dbt() -> bool:
    return (sys.platform != "darwin" and hasattr(os, "fork") and hasattr(socket, "AF_UNIX")
            and hasattr(socket, "send_fds"))


def import_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The variables a server's interpreter and dbt's import read: they pick its server."""
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(IMPORT_ENV_PREFIXES) or k in IMPORT_ENV_NAMES))


class ForkServer:
    """One server process and its socket. The process that started it owns it (waits on it,
    stops it); a process forked from the owner only connects to it."""

    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self.python = python
        self.environment = import_env(env)  # with python, what picks this server
        self.served = 0  # commands forked for this process: tests and figures read it
        self.failed = False
        self.owner = os.getpid()
        self.proc: subprocess.Popen[bytes] | None = None
        self._count = threading.Lock()
        try:
            self.folder = tempfile.mkdtemp(prefix="headwater-dbt-")
        except OSError:
            self.folder = self.address = ""
            self.failed = True
            return
        self.address = os.path.join(self.folder, "server.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.address)
            listener.listen(64)
            # The socket is made here, so a command can connect (and queue) while the server
            # is still importing dbt; stdin is the server's tie to this process: EOF ends it.
            self.proc = subprocess.Popen(
                [python, SERVER, str(listener.fileno()), self.address], cwd=self.folder,
                env={**env, "PYTHONUNBUFFERED": "1"}, pass_fds=(listener.fileno(),), stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self.failed = True
            self._remove_folder()
        finally:
            listener.close()

    @property
    def owned(self) -> bool:
        return self.owner == os.getpid()

    @property
    def usable(self) -> bool:
        if self.failed:
            return False
        return not self.owned or (self.proc is not None and self.proc.poll() is None)

    def run(self, args: Sequence[str], events: Sequence[str], cwd: Path, env: Mapping[str, str]) -> ForkedCommand | None:
        """Fork ``dbt <args>`` in ``cwd`` with ``env``; None when the server cannot (it
        ended, or never got dbt imported): the caller starts a fresh child instead."""
        body = json.dumps({"args": list(args), "events": list(events), "cwd": str(cwd), "env": dict(env)}).encode()
        payload = b"%08d" % len(body) + body
        events_r, events_w = os.pipe()
        output_r, output_w = os.pipe()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = None
        try:
            sock.connect(self.address)
            sent = socket.send_fds(sock, [payload], [events_w, output_w])
            sock.sendall(payload[sent:])
            os.close(events_w)
            os.close(output_w)
            events_w = output_w = -1
            reply = _Lines(sock)
            word, _, number = (reply.next() or "").partition(" ")
            if word == "pid" and number.isdigit():
                pid = int(number)
        except OSError:
            pass
        except BaseException:  # Ctrl-C while the server was still importing dbt
            _close(sock, events_r, events_w, output_r, output_w)
            raise
        if pid is None:
            _close(sock, events_r, events_w, output_r, output_w)
            self.failed = True  # server_for starts another, unless this one never worked here
            return None
        with self._count:
            self.served += 1
        return ForkedCommand(sock, reply, pid, os.fdopen(output_r, "r"), os.fdopen(events_r, "r"))

    def stop(self, wait: float = 10.0) -> None:
        """End an owned server (its stdin closes; commands still running stop themselves)."""
        proc = self.proc
        if not self.owned or proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._remove_folder()

    def forget(self) -> None:
        """In a process forked from the owner: keep the address, let go of the process (its
        stdin held open here would keep the server alive past its owner)."""
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.proc = None

    def _remove_folder(self) -> None:
        for remove, path in ((os.unlink, self.address), (os.rmdir, self.folder)):
            try:
                remove(path)
            except OSError:
                pass


class _Lines:
    """The server's replies on a command's connection, a line at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> str | None:
        while b"\n" not in self.buffer:
            data = self.sock.recv(256)
            if not data:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


class ForkedCommand:
    """A dbt command forked by the server, driven as the ``Popen`` of a ``dbt_child.py``.

    Signals go through the server (``signal N`` on the connection), which delivers them only
    while the child is its own unreaped child; the exit code comes back the same way, read
    by a thread so that ``wait(timeout)`` and ``poll()`` work from any thread."""

    def __init__(self, sock: socket.socket, reply: _Lines, pid: int, stdout: IO[str], events: IO[str]) -> None:
        self.pid = pid
        self.stdout = stdout
        self.events = events
        self.returncode: int | None = None
        self.lost = False  # the server ended before telling the exit code
        self._sock = sock
        self._reply = reply
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read_exit, name="headwater-dbt-exit", daemon=True)
        self._reader.start()

    def _read_exit(self) -> None:
        code = None
        try:
            while (line := self._reply.next()) is not None:
                word, _, number = line.partition(" ")
                if word == "exit":
                    code = int(number)
                    break
        except (OSError, ValueError):
            pass
        with self._lock:
            self._sock.close()
        if code is None:
            # The child watches the server and stops when it ends: its event pipe closing
            # tells when. Its exit code is lost with the server.
            self.lost = True
            code = 2
        self.returncode = code
        self._done.set()

    def poll(self) -> int | None:
        return self.wait(0) if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"dbt (pid {self.pid})", timeout or 0.0)
        if threading.current_thread() is not self._reader:
            self._reader.join()  # gone, not just done: a process about to fork counts its threads
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        with self._lock:
            if self.returncode is not None or self._sock.fileno() == -1:
                return
            try:
                self._sock.sendall(b"signal %d\n" % int(sig))
            except OSError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _close(sock: socket.socket, *fds: int) -> None:
    sock.close()
    for fd in fds:
        if fd >= 0:
            os.close(fd)


# -- one server per interpreter and import-time environment ------------------------------------

_SERVERS: dict[tuple[str, tuple[tuple[str, str], ...]], ForkServer] = {}
_LOCK = threading.Lock()
_AT_EXIT = False


def server_for(python: str, env: Mapping[str, str]) -> ForkServer | None:
    """This process's server for ``python`` and ``env`` (started now if there is none), or
    None where it cannot run."""
    global _AT_EXIT
    key = (python, import_env(env))
    with _LOCK:
        server = _SERVERS.get(key)
        if server is not None:
            if server.usable:
                return server
            if server.owned and server.failed and server.served == 0:
                return None  # it could not start here (no dbt in that interpreter?): a fresh child per command
            server.stop(wait=2.0)
        server = _SERVERS[key] = ForkServer(python, env)
        if not _AT_EXIT:
            atexit.register(stop_servers)
            _AT_EXIT = True
    return None if server.failed else server


def servers() -> list[ForkServer]:
    with _LOCK:
        return list(_SERVERS.values())


def stop_servers() -> None:
    """Stop the servers this process started (at exit, and when a CLI command ends)."""
    with _LOCK:
        mine = [s for s in _SERVERS.values() if s.owned]
        for key in [k for k, s in _SERVERS.items() if s.owned]:
            del _SERVERS[key]
    for server in mine:
        server.stop()


def forget_in_child() -> None:
    """In a forked process (a multiprocess worker): use the parent's servers, never stop them."""
    global _LOCK
    _LOCK = threading.Lock()  # whoever held it at the fork is not in this process
    for server in _SERVERS.values():
        server.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=forget_in_child)
