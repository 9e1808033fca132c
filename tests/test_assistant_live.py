"""The assistant on a live simulated incident: a real server (uvicorn on a free port), a fault
injected through the API, `openmanager ask --url` answering, and the numbers checked against
PromQL queries the test writes itself.

The platform runs on a controllable clock so a disk that takes an hour and more to fill can be
replayed in seconds; everything else (storage, rules, the query engine, HTTP) is real.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from openmanager.api.app import create_app
from openmanager.cli.main import app as cli
from openmanager.config import load_settings
from openmanager.services.platform import Platform
from tests.helpers import free_port

PACK = Path(__file__).parents[1] / "openmanager" / "rules" / "default_rules.yaml"
STEP_S = 300.0


class Clock:
    """Wall-clock time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Live:
    def __init__(self, url: str, platform: Platform, clock: Clock) -> None:
        self.url, self.platform, self.clock = url, platform, clock

    def advance_to(self, target_s: float) -> None:
        """Move time forward in scrape-sized steps, ticking the fleet and the rules each step."""
        assert self.platform.fleet is not None
        while self.clock() < target_s:
            self.clock.offset += min(STEP_S, target_s - self.clock())
            self.platform.fleet.tick()
            self.platform.rules.tick()

    def promql(self, expr: str, time_ms: int) -> float:
        """An instant query through the Prometheus API, one series expected."""
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr, "time": time_ms / 1000})
        result = r.json()["data"]["result"]
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def ask_cli(self, question: str) -> tuple[dict[str, Any], str]:
        """`openmanager ask --url` as JSON and as text."""
        runner = CliRunner()
        out = runner.invoke(cli, ["ask", question, "--url", self.url, "--json"])
        assert out.exit_code == 0, out.output
        text = runner.invoke(cli, ["ask", question, "--url", self.url])
        assert text.exit_code == 0, text.output
        return json.loads(out.output), text.output


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("assistant-live")
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(data), "future_tolerance": "1d"},
            "simulator": {"backfill": "2h", "faults": False},
            "rules": {"files": [str(PACK)]},
        },
    )
    clock = Clock()
    platform = Platform(settings, clock=clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the server did not start within 60 s"
        yield Live(f"http://127.0.0.1:{port}", platform, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def disk_full(live: Live) -> dict[str, Any]:
    """A disk_full fault on db-primary-01, replayed until ten minutes after the disk filled."""
    r = httpx.post(
        f"{live.url}/api/v1/fleet/faults", json={"scenario": "disk_full", "server": "db-primary-01"}
    )
    assert r.status_code == 200, r.text
    fault: dict[str, Any] = r.json()["data"]
    filled = next(a for a in fault["affected"] if a["metric"] == "node_disk_written_bytes_total")
    live.advance_to(filled["end_ms"] / 1000 + 600)
    return fault


def _fact(data: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(f for f in data["evidence"]["facts"] if f["ref"] == ref)


def _cited(answer: str, data: dict[str, Any]) -> None:
    """Every citation mark in the answer is listed under Sources with its PromQL or alert."""
    refs = set(re.findall(r"\[(\d+)\]", answer))
    assert refs, answer
    for ref in refs:
        assert f"[{ref}] {_fact(data, ref)['source']}" in answer


@pytest.mark.slow
def test_why_is_db_slow_names_the_full_disk_with_numbers_from_promql(
    live: Live, disk_full: dict[str, Any]
) -> None:
    data, text = live.ask_cli("why is db-primary-01 slow?")
    ev = data["evidence"]
    assert ev["servers"] == ["db-primary-01"] and "latency" in ev["topics"]
    top = _fact(data, ev["findings"][0])
    assert (top["server"], top["topic"], top["labels"]["mountpoint"]) == (
        "db-primary-01",
        "disk",
        "/data",
    )
    first = data["answer"].splitlines()[0]
    assert first.startswith("Most likely cause: disk usage on db-primary-01 /data")

    # the figures, checked against queries written here, not the assistant's own
    t = ev["time_ms"]
    used = live.promql(
        '1 - node_filesystem_avail_bytes{server="db-primary-01",mountpoint="/data"}'
        ' / node_filesystem_size_bytes{server="db-primary-01",mountpoint="/data"}', t
    )  # fmt: skip
    assert used > 0.95
    assert f"{used * 100:.1f}% [{top['ref']}]" in first
    p95 = live.promql(
        "histogram_quantile(0.95, sum by (le) (rate("
        'http_request_duration_seconds_bucket{server="db-primary-01"}[5m])))', t
    )  # fmt: skip
    lat = next(f for f in ev["facts"] if f["kind"] == "value" and f["topic"] == "latency")
    shown = f"{p95 * 1000:.0f} ms" if p95 < 1 else f"{p95:.2f} s"
    assert f"{shown} [{lat['ref']}]" in data["answer"]
    base = _fact(data, lat["baseline_ref"])
    assert lat["value"] > 2 * base["value"]  # slower than the hour before: the symptom is real

    alerts = {f["source"].split()[1] for f in ev["facts"] if f["kind"] == "alert"}
    assert alerts & {"HighDiskUsage", "DiskFullIn4Hours"}, ev["facts"]
    assert any(p["source"] == "runbooks/disk.md" for p in ev["passages"])

    # the alerts opened an incident; its root-cause ranking is cited too
    assert ev["incidents"] and all(i["status"] != "resolved" for i in ev["incidents"])
    causes = [f for f in ev["facts"] if f["kind"] == "cause"]
    assert causes and all(f["source"] for f in causes)
    # (which candidates the live incident's ranking lists depends on what else the fleet did
    # meanwhile — the ranking itself is measured by `openmanager bench rca`; here it must be cited)
    _cited(data["answer"], data)
    assert "Most likely cause: disk usage on db-primary-01 /data" in text


@pytest.mark.slow
def test_caller_of_the_slow_database_is_pointed_at_its_dependency(
    live: Live, disk_full: dict[str, Any]
) -> None:
    data, _ = live.ask_cli("why is web-server-01 slow?")
    top = _fact(data, data["evidence"]["findings"][0])
    assert (top["server"], top["topic"]) == ("db-primary-01", "disk")
    assert "db-primary-01 is a dependency of web-server-01" in data["answer"].splitlines()[0]


@pytest.mark.slow
def test_korean_question_gets_a_korean_answer_with_the_same_figures(
    live: Live, disk_full: dict[str, Any]
) -> None:
    data, _ = live.ask_cli("db-primary-01 서버가 왜 느려요?")
    assert data["language"] == "ko"
    top = _fact(data, data["evidence"]["findings"][0])
    assert (top["server"], top["topic"]) == ("db-primary-01", "disk")
    used = live.promql(
        '1 - node_filesystem_avail_bytes{server="db-primary-01",mountpoint="/data"}'
        ' / node_filesystem_size_bytes{server="db-primary-01",mountpoint="/data"}',
        data["evidence"]["time_ms"],
    )
    first = data["answer"].splitlines()[0]
    assert first.startswith("가장 유력한 원인:") and f"{used * 100:.1f}%" in first
    assert "출처:" in data["answer"]


@pytest.mark.slow
def test_unknown_server_and_metric_get_closest_names_not_an_answer(live: Live) -> None:
    data, text = live.ask_cli("why is db-primary-99 slow?")
    ev = data["evidence"]
    assert ev["facts"] == [] and ev["servers"] == []
    unknown = ev["unknown"][0]
    assert unknown["name"] == "db-primary-99" and "db-primary-01" in unknown["closest"]
    assert 'I do not know a server called "db-primary-99"' in data["answer"]
    assert "db-primary-01" in text

    data, _ = live.ask_cli("what is node_memory_Available_bytes on cache-redis-01?")
    unknown = data["evidence"]["unknown"][0]
    assert unknown["kind"] == "metric" and "node_memory_MemAvailable_bytes" in unknown["closest"]

    data, _ = live.ask_cli("db-primary-99 서버 상태는?")
    assert '"db-primary-99"(이)라는 서버는 없습니다' in data["answer"]


@pytest.mark.slow
def test_stream_rating_and_history(live: Live) -> None:
    events: list[tuple[str, Any]] = []
    with httpx.stream(
        "GET",
        f"{live.url}/api/v1/assistant/ask/stream",
        params={"question": "how is cache-redis-01?"},
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[0] == "resolved" and kinds[-1] == "answer" and "fact" in kinds
    answer = events[-1][1]
    assert len(answer["evidence"]["facts"]) == kinds.count("fact")

    ident = answer["id"]
    r = httpx.post(f"{live.url}/api/v1/assistant/interactions/{ident}/rating", json={"rating": 5})
    assert r.status_code == 200
    stored = httpx.get(f"{live.url}/api/v1/assistant/interactions/{ident}").json()["data"]
    assert stored["rating"] == 5 and stored["question"] == "how is cache-redis-01?"
    assert stored["latency_ms"] > 0 and stored["evidence"]["facts"]
    bad = httpx.post(f"{live.url}/api/v1/assistant/interactions/{ident}/rating", json={"rating": 9})
    assert bad.status_code == 400
    missing = httpx.post(
        f"{live.url}/api/v1/assistant/interactions/nope/rating", json={"rating": 1}
    )
    assert missing.status_code == 404
    empty = httpx.post(f"{live.url}/api/v1/assistant/ask", json={"question": "  "})
    assert empty.status_code == 400
    recent = httpx.get(f"{live.url}/api/v1/assistant/interactions").json()["data"]
    assert recent[0]["id"] == ident
