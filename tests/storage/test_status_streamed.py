"""``headwater status`` rows computed without a stored snapshot are derived, encoded and
written one asset at a time (``status_snapshot.compute``), never all held: what it prints
and the snapshot it stores are byte for byte what the whole-graph computation gives (every
health, ``health_to_dict``, JSON; the snapshot as ``_build_rows`` and ``_write`` lay it out).
On SQLite and PostgreSQL, with stale chains, a failure, a skip, checks and freshness policies."""

from __future__ import annotations

import io
from datetime import timedelta

import orjson

import headwater as hw
from headwater.core.events import RunStarted
from headwater.core.root_counts import root_cause_counts
from headwater.reports import health_to_dict
from headwater.service import status_refresh, status_snapshot
from headwater.service.status_rows import document_pieces
from headwater.storage.snapshot_files import _write_json

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _defs(fail: bool, versions: dict[str, int]) -> hw.Definitions:
    """Two roots feeding a diamond and a chain: each run of a root gives it a new data
    version, so what read the old one is stale, through several paths (root causes counted
    once); ``d`` fails when asked to and ``e`` below it is then skipped."""

    def version(name: str) -> hw.Output:
        versions[name] += 1
        return hw.Output(1, data_version=f"{name}{versions[name]}")

    @hw.asset
    def a():
        return version("a")

    @hw.asset(code_version="1")
    def z():
        return version("z")

    @hw.asset(freshness=hw.FreshnessPolicy.within(timedelta(hours=2), warn_lag=timedelta(hours=1)))
    def b(a, z):
        return 1

    @hw.asset
    def c(a, b):
        return 1

    @hw.asset
    def d(b):
        if fail:
            raise ValueError("d broke")
        return 1

    @hw.asset
    def e(d):
        return 1

    @hw.asset(freshness=hw.FreshnessPolicy.by_deadline("0 9 * * *", lag=timedelta(hours=6)))
    def f(c, e, z):
        return 1

    @hw.check("c", severity="warn")
    def c_small(c):
        return False

    @hw.check("f")
    def f_ok(f):
        return True

    return hw.Definitions(assets=[a, z, b, c, d, e, f], checks=[c_small, f_ok])


def _history(tmp_path, url: str, clock: Clock) -> hw.Definitions:
    versions = {"a": 0, "z": 0}
    with hw.Instance(home=tmp_path / "home", database_url=url, clock=clock) as inst:
        assert inst.materialize(_defs(False, versions), "*").success
        clock.now += 3600
        broken = _defs(True, versions)
        assert not inst.materialize(broken, "*").success  # d fails, e is skipped
        clock.now += 600
        assert inst.materialize(broken, "a, z").success  # new versions: stale below, through many paths
    clock.now += 5 * 3600  # past a warn lag, before and after deadlines
    return broken


def _whole(inst: hw.Instance, defs: hw.Definitions) -> tuple[bytes, bytes]:
    """The whole-graph computation: every health at once, the document ``status --json``
    printed from them, and the snapshot ``status_refresh.keep`` stores from them (read back)."""
    mark = inst.store.last_event_id()
    healths = inst.healths(defs)
    statuses = {k: h.status for k, h in healths.items()}
    counts = root_cause_counts(statuses)
    document = b"".join(document_pieces([orjson.dumps(health_to_dict(h, defs.graph, counts.get(k, 0)))
                                         for k, h in healths.items()]))
    fp = status_snapshot.fingerprint(defs)
    for snap in (inst.home / status_snapshot.FOLDER).glob("status-*.snap"):
        snap.unlink()
    assert status_refresh.keep(inst, defs, mark, healths)  # every row written from the whole computation
    return document, status_snapshot.path_of(inst, fp).read_bytes()


def _printed(found: status_snapshot.StatusRows, tmp_path) -> tuple[bytes, bytes]:
    """``write_document`` to memory and to a real file (copied by the kernel where it can)."""
    memory = io.BytesIO()
    found.write_document(memory)
    with open(tmp_path / "out.json", "wb") as f:
        found.write_document(f)
    return memory.getvalue(), (tmp_path / "out.json").read_bytes()


def test_rows_computed_one_at_a_time_are_the_whole_computations_byte_for_byte(tmp_path, store_url):
    clock = Clock()
    defs = _history(tmp_path, store_url, clock)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        found = status_snapshot.compute(inst, defs)
        try:
            assert not found.from_snapshot
            assert found.stored_document() is not None  # printed from the file it was written to, none held
            printed = _printed(found, tmp_path)
            summaries = found.summaries
        finally:
            found.close()
        streamed = status_snapshot.path_of(inst, status_snapshot.fingerprint(defs)).read_bytes()
        document, snapshot = _whole(inst, defs)
    assert printed == (document, document)
    assert snapshot == streamed
    assert sum(1 for s in summaries if s[5]) >= 4 and any(s[3] == "failed" for s in summaries)
    assert any(s[6] for s in summaries)  # freshness evaluated: rows stored without it, put back when printed
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        again = status_snapshot.status_rows(inst, defs)  # what the next process reads back
        try:
            assert again.from_snapshot and _printed(again, tmp_path) == (document, document)
        finally:
            again.close()


def test_rows_not_kept_are_the_whole_computations_too(tmp_path, store_url):
    """A run in progress: nothing stored, the rows written to an unnamed file and printed."""
    clock = Clock()
    defs = _history(tmp_path, store_url, clock)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        document, _ = _whole(inst, defs)
        for snap in (tmp_path / "home" / status_snapshot.FOLDER).glob("status-*.snap"):
            snap.unlink()
        inst.store.write([RunStarted(run_id="r-running", timestamp=clock.now)])
        found = status_snapshot.status_rows(inst, defs)
        try:
            assert _printed(found, tmp_path) == (document, document)
            assert found.rows() == document_pieces(found.rows())[1::2]
        finally:
            found.close()
    assert not list((tmp_path / "home" / status_snapshot.FOLDER).glob("status-*"))


def test_where_no_snapshot_can_be_written_the_rows_are_printed_all_the_same(tmp_path, store_url, monkeypatch):
    clock = Clock()
    defs = _history(tmp_path, store_url, clock)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        document, _ = _whole(inst, defs)
    folder = tmp_path / "home" / status_snapshot.FOLDER
    for snap in folder.glob("*"):
        snap.unlink()
    folder.rmdir()
    folder.write_text("not a folder")  # the snapshots' folder cannot be made
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        found = status_snapshot.status_rows(inst, defs)
        try:
            assert _printed(found, tmp_path) == (document, document)
        finally:
            found.close()
    assert folder.read_text() == "not a folder"

    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # nor an unnamed file anywhere: rows held in memory
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        found = status_snapshot.status_rows(inst, defs)
        try:
            assert found.stored_document() is None
            assert _printed(found, tmp_path) == (document, document)
        finally:
            found.close()


def test_a_snapshot_that_fails_midway_leaves_the_rows_printed_all_the_same(tmp_path, store_url, monkeypatch):
    """The disk refuses the snapshot after every row was derived (the statuses handed out to
    it, and forgotten as its rows went): the rows are derived again, from a second read, and
    printed from an unnamed file; nothing is kept."""
    from headwater.storage.snapshot_files import SnapshotDraft

    clock = Clock()
    defs = _history(tmp_path, store_url, clock)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        document, _ = _whole(inst, defs)
    for snap in (tmp_path / "home" / status_snapshot.FOLDER).glob("status-*.snap"):
        snap.unlink()
    finish = SnapshotDraft.finish
    refused: list[object] = []

    def full_disk(self, path, header, index):  # type: ignore[no-untyped-def]
        if path is not None:
            refused.append(path)
            raise OSError(28, "No space left on device")
        return finish(self, path, header, index)

    monkeypatch.setattr(SnapshotDraft, "finish", full_disk)
    with hw.Instance(home=tmp_path / "home", database_url=store_url, clock=clock) as inst:
        found = status_snapshot.compute(inst, defs)
        try:
            assert refused and _printed(found, tmp_path) == (document, document)
        finally:
            found.close()
    assert not list((tmp_path / "home" / status_snapshot.FOLDER).glob("status-*"))


def test_an_index_written_in_pieces_is_orjsons_text():
    for value in ([[["a", 1, None], ["b", [["c", "passed"]]]] * 7, list(range(23)), []], [], {"a": 1},
                  [[], [1], list(range(5))]):
        out = io.BytesIO()
        _write_json(out, value, chunk=2)
        assert out.getvalue() == orjson.dumps(value)


def test_a_document_written_row_by_row_is_the_joined_one(monkeypatch):
    """Rows handed in one at a time, written in pieces (here a few bytes each): the same
    document as ``document_pieces`` joined, and the same ``starts``; none and one row too."""
    from headwater.service import status_rows
    from headwater.service.status_rows import DocumentWriter, starts_of

    monkeypatch.setattr(status_rows, "_FLUSH", 7)
    for rows in ([], [b'{"key":"a"}'], [b'{"key":"%d"}' % i * (i % 4) for i in range(40)]):
        out = io.BytesIO()
        document = DocumentWriter(out.write)
        for row in rows:
            document.add(row)
        document.close()
        assert out.getvalue() == b"".join(document_pieces(rows))
        assert document.starts == starts_of(rows)
