"""docs/workspaces.md runs: its shell blocks, in order, in one folder, in real virtualenvs."""

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "workspaces.md"


def test_the_worked_example_runs(tmp_path):
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 6
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "headwater").write_text(f"#!/bin/sh\nexec {sys.executable} -m headwater.cli.app \"$@\"\n")
    (bin_dir / "headwater").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "COLUMNS": "200"}
    env.pop("HEADWATER_HOME", None)
    cwd = tmp_path
    outputs = []
    for block in blocks:
        expected = 1 if block.startswith("# exits 1") else 0
        done = subprocess.run(["bash", "-c", "set -e\n" + block if expected == 0 else block], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == expected, (block, done.stdout, done.stderr)
        outputs.append(done.stdout + done.stderr)
        cwd = tmp_path / "platform"
    listed, broken, after, fixed = outputs[2], outputs[3], outputs[4], outputs[5]
    assert re.search(r"ingest\s+loaded\s+2 assets", listed) and re.search(r"ml\s+loaded\s+1 assets", listed)
    assert "succeeded: 4 asset(s) materialized" in listed and "revenue" in listed
    assert "broken" in broken and "SyntaxError" in broken and 'ml/pipeline.py", line 4' in broken
    assert "location unavailable" in after and "warning: location ml failed to load" in after
    assert "succeeded" in after
    assert re.search(r"ml\s+loaded", fixed) and "location unavailable" not in fixed
    assert "forecast" in fixed
