"""A full disk (issue 17): reads still work, writes and values say the disk is full.

The store test mounts a real tmpfs of 2 MB and fills it (root only, as in CI's container;
skipped elsewhere). The value store test needs no root: a file size limit makes the
kernel refuse the write the way a full disk does, with an OSError."""

import resource
import shutil
import signal
import subprocess
import uuid

import pytest

import headwater as hw
from headwater.core.keys import AssetKey
from headwater.values.filesystem import FilesystemValueStore


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("needs to mount a tmpfs (root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder):
    with open(folder / f"filler-{uuid.uuid4().hex}", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def test_reads_work_and_writes_explain_on_a_full_disk(small_disk):
    @hw.asset
    def raw():
        return 1

    @hw.asset
    def revenue(raw):
        return raw + 1

    defs = hw.Definitions(assets=[raw, revenue])
    with hw.Instance(home=small_disk / "home") as inst:
        first = inst.materialize(defs, "*")
        assert first.success
        before = [(s.key, s.status, s.data_version) for s in inst.status(defs)]
    _fill(small_disk)
    with hw.Instance(home=small_disk / "home") as inst:  # a new process's view: no -shm file left
        assert [(s.key, s.status, s.data_version) for s in inst.status(defs)] == before
        assert [r.run_id for r in inst.runs()] == [first.run_id]
        assert inst.why(defs, "revenue")
        with pytest.raises(hw.HeadwaterError, match="is full.*free some space; reading still works"):
            inst.materialize(defs, "*")


def test_a_value_that_cannot_be_written_for_lack_of_room_says_so(tmp_path):
    store = FilesystemValueStore(tmp_path / "values")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        with pytest.raises(hw.HeadwaterError) as caught:
            store.save(AssetKey.parse("big"), "", b"x" * 1_000_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    message = str(caught.value)
    assert message.startswith("could not write the value of asset big to ")
    assert "File too large" in message and "cannot store" not in message and "pickle" not in message
    assert list((tmp_path / "values" / "big").iterdir()) == []  # no half-written temporary file left
