"""No command leaves a process behind (issue 14): each runs under a child subreaper, so any
process it started that outlives it (running, or a zombie nobody reaped) becomes the
subreaper's child and is seen, then killed and reaped. A multiprocess ``materialize`` used to
leave multiprocessing's resource tracker behind, a zombie of PID 1 in a container."""

import json
import os
import subprocess
import sys

import pytest

REAPER = r'''
import ctypes, json, os, signal, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
me = str(os.getpid())
left = []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    if ppid == me:
        left.append({"pid": int(pid), "state": state, "name": stat.split("(", 1)[1].rsplit(")", 1)[0]})
for p in left:
    try:
        os.kill(p["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(p["pid"], 0)
print(json.dumps({"exit": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-2000:], "left": left}))
'''

PROJECT = """
import headwater as hw

@hw.asset
def a():
    return 1

@hw.asset
def b(a):
    return a + 1

@hw.check("b")
def positive(b):
    return b > 0

defs = hw.Definitions(assets=[a, b], checks=[positive])
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreaper is Linux-only")


def leftovers(*args, home):
    env = {**os.environ, "HEADWATER_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", REAPER, sys.executable, "-m", "headwater", *args],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_no_command_leaves_a_process_behind(tmp_path, write_project):
    path = str(write_project(PROJECT))
    home = tmp_path / "home"
    for args in (["materialize", "-f", path, "--executor", "multiprocess", "--workers", "2"],
                 ["status", "--json", "-f", path]):
        result = leftovers(*args, home=home)
        assert result["exit"] == 0, result["stderr"]
        assert result["left"] == [], f"headwater {' '.join(args[:3])} left {result['left']} behind"
    # status ends its process without the interpreter's teardown: everything was still written
    assert [row["key"] for row in json.loads(result["stdout"])] == ["a", "b"]
