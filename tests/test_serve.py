"""`openmanager serve` as a real process: serves the fleet, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from openmanager.config import load_settings
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import eq
from tests.serve_process import serve_process


@pytest.mark.slow
def test_sigterm_shuts_down_cleanly_and_keeps_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_process(data) as (url, proc):
        fleet = httpx.get(f"{url}/api/v1/fleet").json()["data"]
        assert fleet["summary"]["total"] == 20
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        out = proc.stdout.read() if proc.stdout else ""
    assert code == 0, out
    assert "OpenManager stopped" in out
    settings = load_settings(None, {"profile": "test", "storage": {"path": str(data)}})
    storage = open_storage(settings.storage)
    try:
        stored = storage.select([eq("__name__", "node_load1")], 0, 2**62)
        assert len(stored) == 20 and all(len(s.timestamps) > 0 for s in stored)
    finally:
        storage.close()
