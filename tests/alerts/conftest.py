import sys
from pathlib import Path

import pytest

# The helper modules beside this file are imported by plain name (as tests/storage does).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alert_hook import Hook  # noqa: E402


@pytest.fixture
def hook():
    """A real webhook receiver on 127.0.0.1 (ephemeral port), stopped after the test."""
    h = Hook()
    h.thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()
    h.thread.join(5)
