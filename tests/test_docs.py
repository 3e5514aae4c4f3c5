"""Docs are tested: every CLI command is documented, and the README quickstart runs."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from headwater.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def command_paths(typer_app, prefix=""):
    group = typer.main.get_group(typer_app)
    out = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out.append(path)

    walk(group, prefix)
    return out


def test_every_cli_command_is_documented():
    docs = (ROOT / "docs" / "cli.md").read_text()
    paths = command_paths(app)
    assert "run show" in paths and "materialize" in paths
    for path in paths:
        assert f"`headwater {path}" in docs, f"headwater {path} is not documented in docs/cli.md"


def test_readme_gives_the_ci_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line)
    assert command.strip() in readme


def readme_commands() -> tuple[str, str]:
    """The README's install-and-run command and its test command, as written."""
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    quickstart = next(b for b in blocks if "headwater init" in b)
    tests = next(b for b in blocks if "pytest" in b)
    return quickstart, tests


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_commands_run_in_order_in_one_shell_in_a_fresh_virtualenv(tmp_path):
    """Both README commands, verbatim, one after the other in one shell, from the root of a
    fresh checkout with a fresh virtualenv: the quickstart works, the test command works
    right after it, and the checkout is left clean.

    The virtualenv sees the machine's packages (--system-site-packages) so that nothing is
    downloaded; it is made --without-pip (seconds less), so its `python -m pip` is the
    machine's pip, which installs into the virtualenv it runs in. PYTEST_ADDOPTS points the inner pytest at one small test file: the
    command is the README's, but running this whole suite inside itself would never end.
    """
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to copy the tracked files from")
    checkout = tmp_path / "checkout"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "fresh checkout"]):
        subprocess.run([*git, *args], cwd=checkout, check=True, capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    quickstart, tests = readme_commands()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HEADWATER_HOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}:{env['PATH']}", PYTEST_ADDOPTS="tests/core/test_keys.py",
               TMPDIR=str(tmp_path))
    script = f"set -e\n{quickstart}\necho '--- tests ---'\n{tests}\n"
    result = subprocess.run(["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True,
                            timeout=540)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    quick, _, after = result.stdout.partition("--- tests ---")
    assert "revenue is overdue since" in quick and "raw/orders has delivered nothing newer since" in quick
    assert "degraded" in quick and "enough_orders_per_day" in quick
    assert re.search(r"\d+ passed", after), after[-2000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True)
    assert status.stdout == "", status.stdout


def test_the_design_notes_the_code_refers_to_are_in_the_repository():
    design = (ROOT / "docs" / "design.md").read_text()
    sections = set(re.findall(r"^## (\d+)\.", design, re.M))
    checked = 0
    for folder in ("src", "tests", "bench", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".toml", ".tmpl") or not path.is_file():
                continue
            text = path.read_text()
            old_names = ("DESIGN" + ".md", "DESIGN" + " §")  # split, so this file does not match itself
            assert not any(n in text for n in old_names), f"{path}: refer to docs/design.md"
            for section in re.findall(r"design\.md\)? §(\d+)", text):
                assert section in sections, f"{path}: docs/design.md has no §{section}"
                checked += 1
    assert checked >= 5
