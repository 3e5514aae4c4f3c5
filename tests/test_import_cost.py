"""What a process imports is what it pays for: ``import headwater`` must stay light.

Every check runs a fresh interpreter and reads its ``sys.modules``: the package's top level
resolves its names on first use (``headwater/__init__.py``), so a definitions file does not
import the store, a ``status --json`` does not import the web server, and nothing imports dbt
or Dask unless asked. ``bench/import_bench.py`` prints what these paths cost in CPU time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "pydantic", "dask", "distributed",
         "dbt", "altair", "vl_convert", "duckdb", "psycopg", "typer", "rich")
DEFINITIONS_FILE = '''
import headwater as hw

@hw.asset(code_version="1")
def raw():
    return 1

@hw.asset(freshness=hw.FreshnessPolicy.within(__import__("datetime").timedelta(hours=1)))
def clean(raw):
    return raw + 1

defs = hw.Definitions(assets=[raw, clean], checks=[hw.check("clean", name="positive")(lambda: True)])
'''


PLAIN_FILE = """
import headwater as hw

@hw.asset
def raw():
    return 1

@hw.asset
def clean(raw):
    return raw + 1

defs = hw.Definitions(assets=[raw, clean])
"""


def imported_after(code: str, cwd: Path | None = None, whole: bool = False) -> set[str]:
    """The top-level packages ``code`` imported in a fresh interpreter (beyond Python's own
    start); ``whole``: the modules' full names."""
    name = "m" if whole else "m.split('.')[0]"
    probe = code + f"\nimport json, sys\nprint('MODULES ' + json.dumps(sorted({{{name} for m in sys.modules}})))"
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line[len("MODULES "):]))


def test_import_headwater_imports_nothing_heavy():
    found = imported_after("import headwater")
    assert not found & set(HEAVY), sorted(found & set(HEAVY))
    assert "croniter" not in found


def test_a_definitions_file_imports_neither_the_store_nor_the_server(tmp_path):
    (tmp_path / "defs.py").write_text(DEFINITIONS_FILE)
    found = imported_after("import defs; assert len(defs.defs.graph) == 2", cwd=tmp_path)
    assert not found & set(HEAVY), sorted(found & set(HEAVY))


def test_the_cli_imports_no_web_server_dbt_or_dask():
    found = imported_after("import headwater.cli.app")
    assert not found & {"fastapi", "starlette", "uvicorn", "jinja2", "dask", "distributed", "dbt", "altair",
                        "vl_convert", "sqlalchemy"}, sorted(found)


def test_a_command_that_reads_state_loads_no_run_machinery():
    """The CLI, ``Instance`` and the executor names without the coordinator, the executors
    (multiprocessing), checks, observation or alert channels (mail, HTTP): only a run,
    a check or an alert needs those, and importing them was ~0.1 s of every ``status``."""
    found = imported_after("import headwater.cli.app\nfrom headwater.service import EXECUTORS, Instance\n"
                           "Instance.statuses, Instance.status_rows", whole=True)
    run_only = {"headwater.execution.coordinator", "headwater.service.executors", "headwater.execution.multiprocess",
                "headwater.execution.check_execution", "headwater.execution.observation", "headwater.alerts",
                "headwater.alerts.channels", "multiprocessing", "smtplib", "urllib.request", "rich.progress"}
    assert "headwater.service.instance" in found
    assert not found & run_only, sorted(found & run_only)
    assert "urllib.request" in imported_after("import headwater.alerts.channels as c\nc._opener()", whole=True)


@pytest.mark.parametrize("name", ["asset", "Definitions", "DailyPartitions", "Instance", "checks", "observers",
                                  "AutomationCondition", "materialize"])
def test_a_public_name_is_imported_on_first_use_and_is_the_defining_modules_object(name):
    import headwater

    code = textwrap.dedent(f"""
        import sys, headwater
        value = getattr(headwater, {name!r})
        assert headwater.{name} is value
        module = sys.modules[headwater._EXPORTS[{name!r}]]
        assert value is (module if {name!r} in headwater._MODULES else getattr(module, {name!r}))
    """)
    imported_after(code)
    assert name in dir(headwater)


def test_every_name_of_all_resolves_and_dir_lists_it():
    import headwater

    for name in headwater.__all__:
        assert getattr(headwater, name) is not None, name
    assert set(headwater.__all__) <= set(dir(headwater))
    assert "dbt" in dir(headwater)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        headwater.nope  # noqa: B018


def test_the_service_package_is_lazy_too():
    found = imported_after("import headwater.service")
    assert "headwater" in found and not found & set(HEAVY)
    code = "from headwater.service import EXECUTORS, Instance; assert 'in_process' in EXECUTORS and Instance"
    imported_after(code)


@pytest.mark.parametrize("stored", [True, False], ids=["from its snapshot", "computed"])
def test_status_json_imports_no_store_server_dbt_or_dask(tmp_path, stored):
    """Printed from the rows a previous ``status`` kept, or computed from a SQLite store (read
    with the standard library, ``sqlite_reads``): SQLAlchemy is never imported."""
    (tmp_path / "defs.py").write_text(PLAIN_FILE)
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HEADWATER_HOME": str(tmp_path / "home")}
    commands = [["materialize", "*", "--executor", "in_process"], ["status", "--json"]]  # the second stores it
    for args in commands if stored else commands[:1]:
        done = subprocess.run([sys.executable, "-m", "headwater", *args, "-f", "defs.py"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    code = textwrap.dedent("""
        import contextlib, json, os
        os.environ["HEADWATER_HOME"] = "home"
        from headwater.cli.app import app
        with open("out.json", "w") as out, contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            app(["status", "--json", "-f", "defs.py"])
        text = open("out.json").read()
        assert [r["key"] for r in json.loads(text)] == ["raw", "clean"], text
    """)
    found = imported_after(code, cwd=tmp_path)
    assert not found & {"sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "pydantic", "dask",
                        "distributed", "dbt", "altair", "vl_convert"}, sorted(found)
