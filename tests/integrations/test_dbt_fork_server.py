"""dbt commands forked from a server that imported dbt once behave as fresh dbt children do.

Real dbt on duckdb, on a tiny project of its own (an in-memory database: commands may run
at once without fighting over a database file's lock): the same events, exit codes 0/1/2
and error messages through the server as through a fresh child (``HEADWATER_DBT_SERVER=off``),
a command's environment reaching its child, two commands at once, a cancel stopping the
forked dbt, and a parent killed with SIGKILL leaving neither dbt nor the server behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from headwater.errors import HeadwaterError
from headwater.integrations.dbt import fork_server
from headwater.integrations.dbt.fork_server import ForkedCommand
from headwater.integrations.dbt.invocation import DbtInvocation, run_dbt

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not fork_server.can_fork_dbt(), reason="the fork server runs where fork is safe"),
]

FILES = {
    "dbt_project.yml": """
        name: probe
        version: "1.0"
        profile: probe
        """,
    "profiles.yml": """
        probe:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: ":memory:"
              threads: 2
        """,
    "models/ok.sql": "select 1 as id\n",
    "models/ok_too.sql": "select id from {{ ref('ok') }}\n",
    "models/broken.sql": "select * from a_table_that_does_not_exist\n",
    "models/slow.sql": """
        {% if env_var('PROBE_SLOW', 'no') == 'yes' %}
        select sum(a.range * b.range) as total from range(1000000) a, range(1000000) b
        {% else %}
        select 1 as total
        {% endif %}
        """,
}

SHOW_ENV = "select '{{ env_var(\"PROBE_VALUE\", \"unset\") }}' as v"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("dbt.cli.main", reason="dbt-core is not installed (pip install -e '.[dbt]')")
    pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is not installed (pip install -e '.[dbt]')")
    root = tmp_path_factory.mktemp("probe")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip())
    inv, _ = run_dbt(["parse", "--profiles-dir", str(root)], root)
    assert inv.returncode == 0, inv.failure("parse")
    return root


def _run(probe: Path, args: list[str], wanted=("NodeFinished",), env=None, target="target"):
    with DbtInvocation([*args, "--profiles-dir", str(probe), "--target-path", target], probe, env=env,
                       wanted=wanted) as inv:
        events = list(inv.events())
    return inv, events


def _served() -> int:
    return sum(s.served for s in fork_server.servers() if s.owned)


def _shown(events) -> str:
    [show] = [e for e in events if e.name == "ShowNode"]
    return show.data["preview"]


@pytest.mark.parametrize(("args", "code"), [
    (["run", "--select", "ok", "ok_too"], 0),
    (["run", "--select", "ok", "broken"], 1),
    (["run", "--select", "ok", "--target", "nowhere"], 2),
], ids=["success", "a_model_fails", "dbt_fails"])
def test_a_forked_command_reports_what_a_fresh_child_does(probe, monkeypatch, args, code):
    before = _served()
    forked, forked_events = _run(probe, args)
    assert isinstance(forked._proc, ForkedCommand) and _served() == before + 1
    monkeypatch.setenv(fork_server.ENV, "off")
    fresh, fresh_events = _run(probe, args)
    assert isinstance(fresh._proc, subprocess.Popen) and _served() == before + 1

    assert forked.returncode == fresh.returncode == code

    def finished(events):
        return sorted((e.name, e.unique_id, (e.data.get("run_result") or {}).get("status")) for e in events)

    assert finished(forked_events) == finished(fresh_events)
    def timeless(errors):
        return [re.sub(r"\d+\.\d+s\b", "#s", e) for e in errors]

    assert timeless(forked.errors) == timeless(fresh.errors)
    if code == 1:
        assert ("NodeFinished", "model.probe.broken", "error") in finished(forked_events)
        assert any("a_table_that_does_not_exist" in e for e in forked.errors)
    if code == 2:  # dbt's own failure, printed by the child: the same last line of output
        assert "nowhere" in str(forked.failure("run")) and "nowhere" in str(fresh.failure("run"))
        assert forked._output[-1] == fresh._output[-1]


def test_each_command_gets_its_own_environment(probe, monkeypatch):
    _, events = _run(probe, ["show", "--inline", SHOW_ENV], wanted=("ShowNode",), env={"PROBE_VALUE": "one"})
    assert "one" in _shown(events)
    monkeypatch.setenv("PROBE_VALUE", "two")  # this process's environment, read per command
    _, events = _run(probe, ["show", "--inline", SHOW_ENV], wanted=("ShowNode",))
    assert "two" in _shown(events)
    monkeypatch.delenv("PROBE_VALUE")
    inv, events = _run(probe, ["show", "--inline", SHOW_ENV], wanted=("ShowNode",))
    assert "unset" in _shown(events) and isinstance(inv._proc, ForkedCommand)


def test_two_commands_at_once_both_run(probe):
    before = _served()
    found: dict[str, str] = {}

    def show(value: str) -> None:
        _, events = _run(probe, ["show", "--inline", SHOW_ENV], wanted=("ShowNode",), env={"PROBE_VALUE": value},
                         target=f"target_{value}")
        found[value] = _shown(events)

    threads = [threading.Thread(target=show, args=(v,)) for v in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(found) == {"left", "right"}
    assert "left" in found["left"] and "right" in found["right"]
    assert _served() == before + 2


def test_stopping_a_forked_command_cancels_dbt_and_the_server_serves_the_next(probe):
    with DbtInvocation(["run", "--select", "slow", "--profiles-dir", str(probe)], probe, env={"PROBE_SLOW": "yes"},
                       wanted=("NodeStart",)) as inv:
        next(e for e in inv.events() if e.name == "NodeStart")
        pid = inv._proc.pid
        assert _alive(pid)
        started = time.monotonic()
        inv.stop()
    assert inv.returncode in (2, 130) and time.monotonic() - started < 10  # SIGINT did it: no kill
    assert not _alive(pid)
    again, events = _run(probe, ["run", "--select", "slow"])
    assert again.returncode == 0 and isinstance(again._proc, ForkedCommand)


KILLED = """
import sys
from headwater.integrations.dbt import fork_server
from headwater.integrations.dbt.invocation import DbtInvocation

probe = sys.argv[1]
with DbtInvocation(["run", "--select", "slow", "--profiles-dir", probe], probe, env={"PROBE_SLOW": "yes"},
                   wanted=("NodeStart",)) as inv:
    for event in inv.events():
        if event.name == "NodeStart":
            [server] = fork_server.servers()
            print(server.proc.pid, inv._proc.pid, flush=True)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_killing_the_parent_leaves_no_dbt_and_no_server(probe):
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(probe)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # once dbt runs the slow model
        assert line, proc.stderr.read()
        server, child = map(int, line.split())
        assert _alive(server) and _alive(child) and _parent(child) == server
        proc.kill()
        proc.wait(30)
        deadline = time.monotonic() + 30
        while _alive(server) or _alive(child):
            assert time.monotonic() < deadline, "the dbt server or its dbt child outlived their killed parent"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


REAPER = r"""
import ctypes, json, os, signal, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER: what the command leaves becomes ours
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
me, left = str(os.getpid()), []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    if stat.rsplit(")", 1)[1].split()[1] == me:
        left.append(open(f"/proc/{pid}/cmdline").read().replace("\0", " ") or stat)
        os.kill(int(pid), signal.SIGKILL)
        os.waitpid(int(pid), 0)
print(json.dumps({"exit": done.returncode, "output": done.stdout + done.stderr, "left": left}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreaper is Linux-only")
def test_a_materialize_command_leaves_no_server_behind(probe, tmp_path):
    defs = tmp_path / "defs.py"
    defs.write_text(f"import headwater as hw\ndefs = hw.dbt.load({str(probe)!r}).definitions()\n")
    env = {**os.environ, "HEADWATER_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", REAPER, sys.executable, "-m", "headwater", "materialize", "ok",
                          "-f", str(defs)], capture_output=True, text=True, env=env, check=True, timeout=300)
    result = json.loads(out.stdout)
    assert result["exit"] == 0, result["output"]
    assert result["left"] == [], f"headwater materialize left {result['left']} behind"


def test_off_runs_a_fresh_child_and_a_bad_choice_names_the_variable(probe, monkeypatch):
    monkeypatch.setenv(fork_server.ENV, "off")
    inv, _ = _run(probe, ["run", "--select", "ok"])
    assert inv.returncode == 0 and isinstance(inv._proc, subprocess.Popen)
    monkeypatch.setenv(fork_server.ENV, "sometimes")
    with pytest.raises(HeadwaterError, match="HEADWATER_DBT_SERVER='sometimes': choose one of auto, off"):
        _run(probe, ["run", "--select", "ok"])


def test_a_server_that_cannot_start_falls_back_to_a_fresh_child(probe, tmp_path, monkeypatch):
    # A temporary folder too deep for a unix socket's path (108 bytes): no server can listen
    # there. A variable of its own makes it a new import environment, so a new server.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    monkeypatch.setenv("PYTHON_HEADWATER_PROBE", "deep")
    before = _served()
    for _ in range(2):  # the second does not try again
        inv, events = _run(probe, ["run", "--select", "ok"])
        assert inv.returncode == 0 and isinstance(inv._proc, subprocess.Popen)
        assert [e.unique_id for e in events] == ["model.probe.ok"]
    assert _served() == before
    assert [s.failed for s in fork_server.servers() if ("PYTHON_HEADWATER_PROBE", "deep") in s.environment] == [True]


def _alive(pid: int) -> bool:
    """Running (a zombie has ended: only its exit status is left to collect)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
