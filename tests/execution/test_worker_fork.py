"""Forked multiprocess workers (issue 14 point 4): a worker forked from a one-thread coordinator
takes the definitions already loaded instead of importing the project again; with other
threads alive it is spawned; it lets go of the coordinator's pipe ends and SQLite connections."""

import json
import os
import signal
import subprocess
import sys

import pytest

import headwater as hw
from headwater.core.events import RunStarted
from headwater.storage.sql.store import open_store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux")

# Each import of the project appends the importing process's pid to IMPORTS.
PROJECT = """
import os
import headwater as hw

with open(os.environ["IMPORTS"], "a") as f:
    f.write(f"{os.getpid()}\\n")

@hw.asset
def a():
    return os.getpid()

@hw.asset
def b(a):
    return os.getpid()

@hw.asset
def c(a):
    return os.getpid()

defs = hw.Definitions(assets=[a, b, c])
"""


def _imports(path):
    return path.read_text().split()


def _cli(path, home, imports, **env):
    return subprocess.run([sys.executable, "-m", "headwater", "materialize", "-f", str(path), "--workers", "2",
                           "--json"], capture_output=True, text=True,
                          env={**os.environ, "HEADWATER_HOME": str(home), "IMPORTS": str(imports), **env})


def test_the_cli_forks_workers_that_do_not_import_the_project_again(tmp_path, write_project):
    path = write_project(PROJECT)
    imports = tmp_path / "imports.txt"
    done = _cli(path, tmp_path / "home", imports)
    assert done.returncode == 0, done.stderr
    coordinator = _imports(imports)
    assert len(coordinator) == 1  # the coordinator's own import, and no other
    with hw.Instance(home=tmp_path / "home") as instance:
        run = instance.runs()[0]
        ran_in = {s.event.pid for s in instance.run_events(run.run_id) if s.event.type_name == "step_started"}
    assert run.status.value == "succeeded"
    assert str(run.pid) == coordinator[0]
    assert ran_in and run.pid not in ran_in  # the steps ran in the workers

    imports.unlink()
    done = _cli(path, tmp_path / "home", imports, HEADWATER_WORKER_START="spawn")
    assert done.returncode == 0, done.stderr
    assert len(_imports(imports)) == 3  # asked for spawn: each worker imports the project itself


def test_a_bad_start_method_is_named(tmp_path, write_project):
    path = write_project(PROJECT)
    done = _cli(path, tmp_path / "home", tmp_path / "imports.txt", HEADWATER_WORKER_START="vfork")
    assert done.returncode == 2
    assert "HEADWATER_WORKER_START='vfork': choose one of auto, fork, spawn" in done.stderr + done.stdout


API_RUN = """
import json, os, sys, threading
import headwater as hw
from headwater.definitions.loader import find_location, load_definitions

location = find_location(file=sys.argv[1])
defs = load_definitions(location)
seen = []
with hw.Instance(home=sys.argv[2]) as instance:
    seen.append(instance.materialize(defs, "*", executor="multiprocess", workers=2, location=location).success)
    with open(os.environ["IMPORTS"]) as f:
        seen.append(len(f.read().split()))
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()  # a thread alive: fork is not safe now
    seen.append(instance.materialize(defs, "*", executor="multiprocess", workers=2, location=location).success)
    stop.set()
    with open(os.environ["IMPORTS"]) as f:
        seen.append(len(f.read().split()))
print(json.dumps(seen))
"""


def test_workers_are_spawned_when_the_coordinator_runs_other_threads(tmp_path, write_project):
    path = write_project(PROJECT)
    imports = tmp_path / "imports.txt"
    done = subprocess.run([sys.executable, "-c", API_RUN, str(path), str(tmp_path / "home")], capture_output=True,
                          text=True, env={**os.environ, "IMPORTS": str(imports)}, timeout=120)
    assert done.returncode == 0, done.stderr
    # one thread: forked, no import; a second thread: both workers spawned, each imports the project
    assert json.loads(done.stdout) == [True, 1, True, 3]


KILLED = """
import multiprocessing, os, signal, sys
import headwater as hw

@hw.asset
def first():
    return 1

@hw.asset
def second(first):
    return 2

def die_after_first(event, step, detail):
    if event == "succeeded":
        pids = [p.pid for p in multiprocessing.active_children() if p.name == "headwater-worker"]
        with open(sys.argv[2], "w") as f:
            f.write(" ".join(map(str, pids)))
        os.kill(os.getpid(), signal.SIGKILL)

with hw.Instance(home=sys.argv[1]) as instance:
    instance.materialize(hw.Definitions(assets=[first, second]), "*", executor="multiprocess", workers=2,
                         progress=die_after_first)
"""


# Runs the command as a child subreaper: the workers orphaned by its death become ours, and
# are reaped as they end (no zombie is left to a PID 1 that does not reap); those still alive
# after 30 s are named, then killed.
REAPER = r"""
import ctypes, json, os, signal, subprocess, sys, tempfile, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
err = tempfile.TemporaryFile("w+")  # not a pipe: orphans holding it open would stall the run
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=err)
left, deadline = [], time.monotonic() + 30
while True:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break  # every orphan ended and was reaped
    if pid:
        continue
    if time.monotonic() > deadline:
        me = str(os.getpid())
        for entry in os.listdir("/proc"):
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if entry.isdigit() and stat.rsplit(")", 1)[1].split()[1] == me:
                left.append(int(entry))
                os.kill(int(entry), signal.SIGKILL)
        deadline = float("inf")
    time.sleep(0.05)
err.seek(0)
print(json.dumps({"exit": done.returncode, "stderr": err.read()[-2000:], "left": left}))
"""


def test_forked_workers_end_when_the_coordinator_is_killed(tmp_path):
    pids_file = tmp_path / "workers.txt"
    out = subprocess.run([sys.executable, "-c", REAPER, sys.executable, "-c", KILLED, str(tmp_path / "home"),
                          str(pids_file)], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout)
    assert result["exit"] == -signal.SIGKILL, result["stderr"]
    assert len(pids_file.read_text().split()) == 2
    # A worker holding its own copy of the coordinator's pipe end never saw EOF and waited forever.
    assert result["left"] == [], "workers outlived their killed coordinator"


def test_a_forked_child_closes_the_sqlite_connections_it_inherited_and_uses_its_own(tmp_path):
    from headwater.storage.sql.engines import close_inherited_sqlite

    url = f"sqlite:///{tmp_path / 'hw.db'}"
    parent = open_store(url)
    try:
        parent.list_runs()  # a read connection, and (below) the kept write connection, open at the fork
        parent.write([RunStarted(run_id="before", timestamp=1.0, selection="*", asset_keys=())])
        inherited = [c for c in _open_sqlite() if c.pid == os.getpid()]
        assert inherited
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without the interpreter's teardown
            code = 1
            try:
                closed = close_inherited_sqlite()
                unusable = 0
                for conn in inherited:
                    try:
                        conn.execute("select 1")
                    except Exception:  # noqa: BLE001 - closed: sqlite3.ProgrammingError
                        unusable += 1
                own = open_store(url)
                own.write([RunStarted(run_id="child", timestamp=2.0, selection="*", asset_keys=())])
                own.close()
                os.write(write, json.dumps([closed, unusable, len(inherited)]).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        report = json.loads(os.read(read, 1000))
        os.close(read)
        assert os.waitstatus_to_exitcode(status) == 0
        closed, unusable, count = report
        assert closed >= count and unusable == count  # every inherited connection closed in the child
        # The parent's connections were not disturbed: it reads the child's write and writes on.
        parent.write([RunStarted(run_id="after", timestamp=3.0, selection="*", asset_keys=())])
        assert {r.run_id for r in parent.list_runs()} == {"before", "child", "after"}
        assert (tmp_path / "hw.db-wal").exists()  # the child's close did not checkpoint the WAL away
    finally:
        parent.close()


def _open_sqlite():
    from headwater.storage.sql import engines

    return list(engines._OPEN)


@pytest.mark.postgres
def test_forked_workers_leave_the_coordinators_postgres_session_alone(tmp_path, write_project, pg_schema_url):
    path = write_project(PROJECT)
    imports = tmp_path / "imports.txt"
    for _ in range(2):  # the coordinator writes the run's end and its status rows after its workers ended
        done = _cli(path, tmp_path / "home", imports, HEADWATER_DATABASE_URL=pg_schema_url)
        assert done.returncode == 0, done.stderr
    assert len(_imports(imports)) == 2  # forked: one import per command
    with hw.Instance(home=tmp_path / "home", database_url=pg_schema_url) as instance:
        assert [r.status.value for r in instance.runs()] == ["succeeded", "succeeded"]
