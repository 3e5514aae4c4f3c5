"""``headwater status``: the table and ``--json`` agree on every field (check states
included), the filters and ``--limit``, paging on a terminal, and answers bounded by the
number of assets, never by the number of paths through the graph (issues 14 and 16)."""

import io
import json
import random

import pytest
from typer.testing import CliRunner

import headwater as hw
from headwater.cli.app import app
from headwater.cli.status_view import page
from headwater.core.root_counts import root_cause_counts

runner = CliRunner()

V1 = """
import headwater as hw

@hw.asset(group="raw")
def raw():
    return 1

@hw.asset(group="core")
def mid(raw):
    return raw + 1

@hw.asset(group="core")
def top(mid):
    return mid

@hw.asset
def broken():
    raise ValueError("boom")

defs = hw.Definitions(assets=[raw, mid, top, broken])
"""

# raw's code changes (stale, code_changed: mid and top upstream_stale after mid is rebuilt),
# and checks appear: raw's never ran, mid's passes, top's fails at severity warn.
V2 = """
import headwater as hw

@hw.asset(group="raw", code_version="2")
def raw():
    return 1

@hw.asset(group="core")
def mid(raw):
    return raw + 1

@hw.asset(group="core")
def top(mid):
    return mid

@hw.asset
def broken():
    raise ValueError("boom")

@hw.asset
def never():
    return 0

@hw.check("raw")
def raw_ok(raw):
    return True

@hw.check("mid")
def mid_ok(mid):
    return True

@hw.check("top", severity="warn")
def top_bad(top):
    return False

@hw.check("top", name="top_ok")
def top_fine(top):
    return True

defs = hw.Definitions(assets=[raw, mid, top, broken, never], checks=[raw_ok, mid_ok, top_bad, top_fine])
"""


def hw_cli(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("status-view")
    path = folder / "pipeline.py"
    home = str(folder / "home")
    path.write_text(V1)
    assert hw_cli("materialize", "-f", str(path), "--home", home, "--executor", "in_process").exit_code == 1
    path.write_text(V2)
    made = hw_cli("materialize", "mid+", "-f", str(path), "--home", home, "--executor", "in_process")
    assert made.exit_code == 0, made.output
    return ["-f", str(path), "--home", home]


def table_rows(output: str) -> dict[str, dict[str, str]]:
    """Parse the plain table back into cells, by the column spans of its rule line."""
    lines = output.splitlines()
    header, rule = lines[0], lines[1]
    spans, start = [], 0
    for dashes in rule.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    names = [header[a:b].strip() for a, b in spans]
    rows = {}
    for line in lines[2:-1]:  # the last line is the summary
        cells = [line[a:b].strip() for a, b in spans[:-1]] + [line[spans[-1][0]:].strip()]
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def test_table_and_json_agree_on_every_field_including_check_states(project):
    table = hw_cli("status", *project)
    assert table.exit_code == 0, table.output
    rows = {r["key"]: r for r in json.loads(hw_cli("status", "--json", *project).output)}
    cells = table_rows(table.output)
    assert set(cells) == set(rows) == {"raw", "mid", "top", "broken", "never"}
    for key, row in rows.items():
        c = cells[key]
        assert (c["group"], c["health"], c["status"]) == (row["group"], row["health"], row["status"])
        kinds = sorted({cause["kind"] for cause in row["stale_causes"]})
        assert c["stale"] == (", ".join(kinds) if row["stale"] else "-")
        assert c["freshness"] == (row["freshness"]["state"] if row["freshness"] else "-")
        assert c["run"] == (row["run_id"][:8] if row["run_id"] else "-")
        assert (c["data time"] == "-") == (row["data_time"] is None)
        assert (c["last materialized"] == "-") == (row["last_materialized_at"] is None)
        states: dict[str, list[str]] = {}
        for check in row["checks"]:
            states.setdefault(check["state"], []).append(check["name"])
        for state, names in states.items():
            assert f"{len(names)} {state.replace('_', ' ')}" in c["checks"], (key, c["checks"], row["checks"])
        assert c["checks"] == "-" if not row["checks"] else "ok" not in c["checks"]
    # the states themselves, as the scenario made them
    assert {ch["name"]: ch["state"] for r in rows.values() for ch in r["checks"]} == {
        "raw_ok": "not_run", "mid_ok": "passed", "top_bad": "warn", "top_ok": "passed"}
    assert cells["raw"]["checks"] == "1 not run"  # it never ran: not "1/1 ok"
    assert cells["top"]["checks"] == "1 warn (top_bad), 1 passed"
    assert rows["broken"]["status"] == "failed" and cells["broken"]["stale"] == "-"
    assert rows["raw"]["stale_causes"][0]["kind"] == "code_changed"
    assert rows["top"]["stale"] and rows["top"]["stale_root_cause_count"] == 1
    # a stale row names its causes; a lone root cause's detail is in the health reason
    assert rows["top"]["stale_root_causes"] == [{"kind": "code_changed", "key": "raw", "dep": None}]
    assert rows["top"]["stale_causes"] == [{"kind": "upstream_stale", "key": "top", "dep": "mid"}]
    assert rows["top"]["stale_cause_count"] == 1
    assert "stale: raw: code version changed from none to '2'" in rows["top"]["health_reasons"]
    badges = [r["health"] for r in rows.values()]
    assert table.output.splitlines()[-1] == ", ".join(
        f"{badges.count(h)} {h}" for h in ("healthy", "warning", "degraded", "unknown")) + "; 3 stale"


@pytest.mark.parametrize(("args", "keys"), [
    (["--status", "failed"], ["broken"]),
    (["--status", "missing"], ["never"]),
    (["--stale"], ["raw", "mid", "top"]),
    (["--check", "not_run"], ["raw"]),
    (["--check", "warn"], ["top"]),
    (["--health", "degraded"], ["broken"]),
    (["group:core", "--stale"], ["mid", "top"]),
    (["--limit", "2"], ["raw", "broken"]),  # upstream first, in the graph's order
])
def test_filters_and_limit(project, args, keys):
    assert [r["key"] for r in json.loads(hw_cli("status", "--json", *args, *project).output)] == keys
    table = hw_cli("status", *args, *project)
    assert list(table_rows(table.output)) == keys


def test_limit_says_how_many_were_left_out_and_bad_filters_name_the_culprit(project):
    table = hw_cli("status", "--limit", "2", *project)
    assert "(first 2 of 5; --limit)" in table.output
    bad = hw_cli("status", "--status", "purple", *project)
    assert bad.exit_code == 2 and "unknown status 'purple'; one of materialized" in bad.output
    assert hw_cli("status", "--check", "maybe", *project).exit_code == 2
    assert hw_cli("status", "--limit", "0", *project).exit_code == 2
    # values Typer's pydantic coercion is skipped for (cli/typer_app._PlainValues) are still checked
    not_a_number = hw_cli("status", "--limit", "x", *project)
    assert not_a_number.exit_code == 2 and "Invalid value for '--limit'" in not_a_number.output


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_long_table_goes_through_the_pager_on_a_terminal_only(tmp_path, monkeypatch):
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"sh -c 'cat > {paged}'")
    monkeypatch.setenv("LINES", "10")
    terminal = Terminal()
    page([f"line {i}" for i in range(50)], terminal)
    assert terminal.getvalue() == "" and paged.read_text().splitlines()[-1] == "line 49"  # waited for
    paged.unlink()
    page(["short"], terminal)  # fits the screen: printed, no pager
    assert terminal.getvalue() == "short\n" and not paged.exists()
    piped = io.StringIO()
    page([f"line {i}" for i in range(50)], piped)  # not a terminal: printed
    assert piped.getvalue().count("\n") == 50 and not paged.exists()


def deep_rebuilt(tmp_path, layers=24, width=4, rebuilds=30):
    """A layered graph rebuilt piecemeal many times: every rebuild of an upper asset whose
    children are not rebuilt adds root causes, which multiply with the paths below."""
    rng = random.Random(7)
    names = [[f"l{i}_{j}" for j in range(width)] for i in range(layers)]
    assets = []
    for i, layer in enumerate(names):
        for name in layer:
            deps = [] if i == 0 else sorted({rng.choice(names[i - 1]), rng.choice(names[rng.randrange(i)])})
            assets.append(hw.asset(key=name, deps=deps)(lambda: None))
    defs = hw.Definitions(assets=assets)
    instance = hw.Instance(home=tmp_path / "home")
    instance.materialize(defs, "*")
    flat = [n for layer in names for n in layer]
    for _ in range(rebuilds):
        instance.materialize(defs, " or ".join(rng.sample(flat, 3)))
    return defs, instance


def test_answers_grow_with_assets_not_paths_and_counts_are_exact(tmp_path):
    """Issue 14 point 3: a stale asset's row is a few hundred bytes longer than a fresh one's,
    however many root causes are behind it (here up to ~40). A fresh row here is 672 bytes
    (two run ids, three times, "materialized and up to date"); a stale one adds its direct
    causes (at most four ``{kind, key, dep}``, ~55 bytes each), its first three root causes
    (as many bytes), their counts, and a "stale: upstream a, b, c updated, and more (headwater
    why x)" reason in place of the fresh one: ~380 bytes on average (a row of ~1,050), ~500
    at most (~1,180). So the bounds: 400 bytes above the largest fresh row on average, 550 at
    most. The five root causes with their details, as the rows had them before, were ~1,900
    bytes above a fresh row on the benchmark's graph; every root cause, as ``status --json``
    listed them once, more than the whole output."""
    defs, instance = deep_rebuilt(tmp_path)
    statuses = instance.statuses(defs)
    counts = root_cause_counts(statuses)
    assert counts == {k: len(s.root_causes()) for k, s in statuses.items() if s.stale}
    assert max(counts.values()) > 5  # deep enough that the bound bites
    from headwater.cli.status_cmd import _rows
    from headwater.reports import CAUSES_LISTED, ROOTS_LISTED

    class Project:
        pass

    p = Project()
    p.instance, p.defs = instance, defs
    rows, total = _rows(p, None, None, None, False, False, None, None)
    assert total == len(defs.graph.keys)
    by_text = {str(k): n for k, n in counts.items()}
    for row in rows:
        status = statuses[hw.AssetKey.parse(row["key"])]
        assert len(row["stale_root_causes"]) == min(ROOTS_LISTED, by_text.get(row["key"], 0))
        assert row["stale_root_cause_count"] == by_text.get(row["key"], 0)
        assert len(row["stale_causes"]) == min(CAUSES_LISTED, len(status.causes)) == min(
            CAUSES_LISTED, row["stale_cause_count"])
        assert [(c["kind"], c["key"]) for c in row["stale_root_causes"]] == [
            (c.kind.value, str(c.key)) for c in status.root_causes()[:ROOTS_LISTED]]
    import orjson

    sizes = {r["key"]: len(orjson.dumps(r)) for r in rows}
    fresh = [sizes[r["key"]] for r in rows if not r["stale"]]
    stale = [sizes[r["key"]] for r in rows if r["stale"]]
    assert fresh and len(stale) > len(rows) / 2
    base = max(fresh)
    assert sum(stale) / len(stale) - base < 400 and max(stale) - base < 550, (base, max(stale), stale)
    listed_all = sum(counts.values()) * len(orjson.dumps(rows[-1]["stale_root_causes"][0]))
    assert listed_all > sum(sizes.values())
    instance.close()


def test_a_row_lists_one_direct_cause_of_each_kind_so_the_table_says_every_kind():
    """Many parents updated at once give many direct causes; the row lists ``CAUSES_LISTED``
    of them, but one of each kind first, since the table's ``stale`` column is their kinds."""
    from headwater.core.keys import AssetKey
    from headwater.core.status import StaleCause, StaleCauseKind
    from headwater.reports import CAUSES_LISTED, listed_causes

    k = AssetKey.parse
    updated = [StaleCause(StaleCauseKind.UPSTREAM_UPDATED, k("x"), k(f"p{i}")) for i in range(9)]
    stale = StaleCause(StaleCauseKind.UPSTREAM_STALE, k("x"), k("p8"))
    code = StaleCause(StaleCauseKind.CODE_CHANGED, k("x"))
    causes = (code, *updated, stale)
    listed = listed_causes(causes)
    assert list(listed) == [code, updated[0], updated[1], stale]  # in their order
    assert len(listed) == CAUSES_LISTED and {c.kind for c in listed} == {c.kind for c in causes}
    assert listed_causes(causes[:CAUSES_LISTED]) == causes[:CAUSES_LISTED]


@pytest.mark.parametrize("n", [0, 1, 5])
def test_json_is_written_in_chunks_one_asset_a_line(n):
    from headwater.cli.status_view import json_chunks

    rows = [{"key": f"a{i}", "detail": 'tricky "},{\\"key\\":" text', "nested": [{"key": "x"}]} for i in range(n)]
    text = b"".join(json_chunks(iter(rows), size=2))
    assert json.loads(text) == rows
    assert text.count(b"\n") == n + (2 if n else 1)  # "[", one line per asset, "]"


def test_the_next_status_prints_the_stored_rows_byte_for_byte(project):
    """The first ``status`` stores every row (service/status_snapshot.py); the next prints
    them without reading the graph's state: the same bytes as rows computed from scratch."""
    from pathlib import Path

    from headwater.cli import status_cmd
    from headwater.cli.status_view import json_chunks
    from headwater.cli.typer_app import _Project

    first = hw_cli("status", "--json", *project).output
    assert list((Path(project[3]) / "snapshots").glob("status-*.snap"))
    second = hw_cli("status", "--json", *project).output
    p = _Project(project[1], None, None, Path(project[3]))
    rows, total = status_cmd._rows(p, None, None, None, False, False, None, None)
    p.instance.close()
    assert first == second == b"".join(json_chunks(rows)).decode()
    assert total == len(rows) == 5
