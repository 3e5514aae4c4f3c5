"""The dbt fork server: import dbt once, then fork a child for each dbt command.

Run as a script (``python dbt_server.py <listening socket fd> <socket path>``) by
``fork_server.py``, never imported by Headwater (like ``dbt_child.py``, whose ``run`` each
child calls). Starting a dbt command in a fresh interpreter costs about a second of CPU
before dbt does anything (importing dbt, its adapters' base, click, jinja, agate, ...); a
process that runs dbt again and again (a backfill: one ``dbt build`` per window, the
daemon, the web server's launches, the test suite) pays it once here instead.

One connection per command, on the unix socket the parent made (it stays in the parent's
private temporary folder):

* the caller sends the request: ``%08d`` (the JSON's length) and the JSON ``{"args",
  "events", "cwd", "env"}``, with two file descriptors attached (``SCM_RIGHTS``): the write
  ends of the event pipe and of dbt's console output;
* the server forks, answers ``pid N`` at once, and ``exit N`` when the child ends (``N`` as
  ``Popen.returncode``: negative for a signal);
* meanwhile the caller may send ``signal N``: the server delivers it while the child is
  its own, unreaped (so a signal never reaches a recycled pid); the caller closing the
  connection before ``exit`` (it died, or gave up) stops the child as Ctrl-C would, then
  kills it ``GRACE`` seconds later.

Every child is forked from the server as it was right after importing dbt: the server
itself never runs a dbt command, so nothing one command leaves in memory (dbt's flags, its
adapters' connections, an invocation context) reaches the next. The child sets its cwd and
``os.environ`` to the request's, takes the two descriptors as its event pipe and its
stdout/stderr, and returns out of the server's loop into ``main``: it then runs dbt and
exits as ``dbt_child.py`` would (the same exit codes, atexit handlers and teardown, which
dbt-duckdb needs to close its database).

Forking is only safe from a process with one thread, so the server has no thread: its
loop waits on the listening socket, the commands' connections, its stdin and a self-pipe
woken by SIGCHLD. No dbt outlives its owner: the server ends when its parent does (its
stdin, a pipe from the parent, reaches EOF; or its parent pid changes), and each child
watches the server as ``dbt_child.py`` watches its parent (the same watchdog thread,
started in the child after the fork). Ctrl-C in a terminal reaches the whole process
group: the server ignores it, each child gets it as a dbt child always did.
"""

import gc
import json
import os
import selectors
import signal
import socket
import sys
import time

GRACE = 10.0  # seconds a child whose caller went away gets to cancel its queries
HEADER = 8


class Job:
    """A command a forked child runs (in the child only)."""

    def __init__(self, request, events_fd, output_fd):  # type: ignore[no-untyped-def]
        self.args = list(request["args"])
        self.events = frozenset(request["events"])
        self.cwd = request["cwd"]
        self.env = dict(request["env"])
        self.events_fd = events_fd
        self.output_fd = output_fd


class Running:
    """A child's connection to its caller, in the server."""

    def __init__(self, conn, pid):  # type: ignore[no-untyped-def]
        self.conn = conn
        self.pid = pid
        self.buffer = b""
        self.kill_at = None  # set once the caller has gone

    def tell(self, line):  # type: ignore[no-untyped-def]
        try:
            self.conn.sendall(line.encode() + b"\n")
        except OSError:
            pass  # the caller has gone: it learns nothing more


def read_request(conn):  # type: ignore[no-untyped-def]
    """The request on a new connection: (request, [events_fd, output_fd]), or None."""
    conn.settimeout(30.0)  # a caller sends it all at once, right after connecting
    fds = []
    try:
        data, fds, flags, _ = socket.recv_fds(conn, 65536, 2)
        if flags & getattr(socket, "MSG_CTRUNC", 0) or len(fds) != 2 or len(data) < HEADER:
            raise ValueError("a malformed request")
        size = int(data[:HEADER])
        while len(data) < HEADER + size:
            more = conn.recv(HEADER + size - len(data))
            if not more:
                raise ValueError("a request cut short")
            data += more
        return json.loads(data[HEADER:HEADER + size]), fds
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        return None


def start_resource_tracker():  # type: ignore[no-untyped-def]
    """Start multiprocessing's resource tracker for every child to share, and return how to
    stop it (None where that is not possible).

    dbt's adapters make multiprocessing locks, and the first lock a process makes starts a
    tracker process: a fresh dbt child starts one per command, which outlives the child (a
    zombie for whoever adopts it). Started here, the forked children find it running and
    use it; the server stops and reaps it when it ends."""
    try:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        return getattr(resource_tracker._resource_tracker, "_stop", None)
    except Exception:
        return None


def serve(listener, parent, running):  # type: ignore[no-untyped-def]
    """Answer requests until the parent is gone (returns None), or, in a forked child, return
    its ``Job``. ``running``: pid -> ``Running``, the children not yet reaped."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop through wake_w
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    sel.register(0, selectors.EVENT_READ, "parent")

    while True:
        now = time.monotonic()
        due = [r.kill_at for r in running.values() if r.kill_at is not None]
        timeout = max(0.0, min([0.5] + [d - now for d in due]))
        for key, _ in sel.select(timeout):
            what = key.data
            if what == "accept":
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                got = read_request(conn)
                if got is None:
                    conn.close()
                    continue
                request, fds = got
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    sel.close()
                    for fd in (wake_r, wake_w):
                        os.close(fd)
                    for other in running.values():
                        other.conn.close()
                    conn.close()
                    listener.close()
                    return Job(request, *fds)
                for fd in fds:
                    os.close(fd)
                conn.setblocking(False)
                child = running[pid] = Running(conn, pid)
                sel.register(conn, selectors.EVENT_READ, child)
                child.tell(f"pid {pid}")
            elif what == "wake":
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            elif what == "parent":
                if not os.read(0, 512):
                    return None  # the parent closed our stdin, or ended
            else:
                heard(what, sel)
        reap(running, sel)
        now = time.monotonic()
        for child in running.values():
            if child.kill_at is not None and now >= child.kill_at:
                signal_child(child.pid, signal.SIGKILL)
                child.kill_at = None
        if os.getppid() != parent:
            return None


def heard(child, sel):  # type: ignore[no-untyped-def]
    """What the caller of a running child said: signals to deliver, or that it has gone."""
    try:
        data = child.conn.recv(4096)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    if not data:
        sel.unregister(child.conn)
        if child.kill_at is None:
            signal_child(child.pid, signal.SIGINT)
            child.kill_at = time.monotonic() + GRACE
        return
    child.buffer += data
    *lines, child.buffer = child.buffer.split(b"\n")
    for line in lines:
        word, _, number = line.decode(errors="replace").partition(" ")
        if word == "signal" and number.strip().isdigit():
            signal_child(child.pid, int(number))


def signal_child(pid, sig):  # type: ignore[no-untyped-def]
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def reap(running, sel):  # type: ignore[no-untyped-def]
    """Collect the children that ended and tell each one's caller its exit code."""
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        child = running.pop(pid, None)
        if child is None:
            continue
        child.tell(f"exit {os.waitstatus_to_exitcode(status)}")
        try:
            sel.unregister(child.conn)
        except (KeyError, ValueError):
            pass  # its caller had gone already
        child.conn.close()


def run_job(job, server):  # type: ignore[no-untyped-def]
    """In a forked child: become the command's process, then run dbt as ``dbt_child.py`` does."""
    import dbt_child

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(job.output_fd, 1)
    os.dup2(job.output_fd, 2)
    os.close(job.output_fd)
    dbt_child.watch(server)
    os.chdir(job.cwd)
    os.environ.clear()
    os.environ.update(job.env)
    time.tzset()
    sys.argv = [dbt_child.__file__, *job.args]
    out = os.fdopen(job.events_fd, "w", buffering=1)
    return dbt_child.run(job.args, job.events, out)


def main() -> int:
    listener = socket.socket(fileno=int(sys.argv[1]))
    path = sys.argv[2]
    parent, me = os.getppid(), os.getpid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the children's dbt
    # dbt_child.py is our neighbour; the rest of this folder (build.py, config.py, ...) must
    # not shadow the modules of those names dbt may import.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.path.insert(0, here)
    import dbt_child

    sys.path.pop(0)
    dbt_child.load_dbt()
    tracker = start_resource_tracker()
    gc.collect()
    gc.freeze()  # what dbt's import made stays shared: a child's collections neither walk nor copy it
    running = {}
    job = serve(listener, parent, running)
    if job is None:
        listener.close()
        if tracker is not None and not running:  # else it ends with the last child, orphaned
            try:
                tracker()
            except OSError:
                pass
        for remove in (os.unlink, os.rmdir):
            try:
                remove(path if remove is os.unlink else os.path.dirname(path))
            except OSError:
                pass
        return 0
    return run_job(job, me)


if __name__ == "__main__":
    sys.exit(main())
