"""The incidents view and the assistant panel in headless Chromium against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.serve_process import serve_process
from tests.web.conftest import TICK_S

pytestmark = pytest.mark.slow

TARGET = "k8s-api-01"
RULES = """groups:
  - name: dashboard
    rules:
      - alert: ServiceDown
        expr: openmanager_service_up == 0
        labels: {severity: page}
        annotations: {summary: "service down on {{ $labels.server }}"}
"""
"""An alert with no `for`: a crashed service fires on the next evaluation and opens an incident."""
INCIDENT_WAIT_S = 4 * TICK_S + 5.0
"""A tick to write the fault, an evaluation to fire, a stream batch, and slack for a loaded machine."""


HTTP_TIMEOUT_S = 30.0
"""Listing incidents ranks their causes (PromQL over hours of data): slow on a loaded machine."""
CAUSE_WAIT_S = 60.0
"""Ranking steps are 15 s and a change needs two of them after the crash; slack for load."""


def _causes_naming(url: str, server: str, timeout_s: float) -> dict[str, Any]:
    """The incident once its ranked causes name `server` (the crashed one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got: dict[str, Any] = httpx.get(url, timeout=HTTP_TIMEOUT_S).json()["data"]
        if any(c["server"] == server for c in got["causes"]) or time.monotonic() > deadline:
            return got
        time.sleep(1.0)


@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A served fleet (no random faults) whose ServiceDown rule is evaluated every tick."""
    root = tmp_path_factory.mktemp("serve-incidents")
    rules = root / "rules.yml"
    rules.write_text(RULES)
    config = root / "openmanager.yaml"
    config.write_text(
        f"simulator:\n  interval: {int(TICK_S)}s\n  backfill: 30m\n  fault_rate_scale: 0\n"
        f"rules:\n  files: [{rules}]\n  evaluation_interval: {int(TICK_S)}s\n"
    )
    with serve_process(Path(root / "data"), "--config", str(config), timeout_s=120) as (url, _p):
        yield url


def test_incidents_view_lists_an_injected_fault_and_ranks_causes(
    rules_server: str, page: Any, shot: Any
) -> None:
    server = rules_server
    page.goto(server + "/#/incidents")
    page.wait_for_selector('#nav a[data-view="incidents"]:not([hidden])', timeout=5000)
    page.wait_for_function("!document.querySelector('#incidents').innerText.includes('loading')")
    row = page.locator(f'tr[data-incident]:has(a[href="#/server/{TARGET}"])').first
    assert row.count() == 0
    started = time.monotonic()
    r = httpx.post(
        f"{server}/api/v1/fleet/faults",
        json={"scenario": "service_crash", "server": TARGET},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, r.text
    # no reload: the row arrives over the live `incidents` channel
    row.wait_for(timeout=INCIDENT_WAIT_S * 1000)
    print(f"fault -> incident row in {time.monotonic() - started:.2f}s")
    assert row.get_attribute("data-status") == "open"
    assert "ServiceDown" in row.inner_text()
    ident = row.get_attribute("data-incident")
    listed = {
        i["id"]: i
        for i in httpx.get(f"{server}/api/v1/incidents", timeout=HTTP_TIMEOUT_S).json()["data"]
    }
    assert TARGET in listed[int(str(ident))]["servers"]
    page.wait_for_function(
        f"!document.querySelector('tr[data-incident=\"{ident}\"] .top-cause').innerText.includes('…')",
        timeout=20_000,
    )
    shot(page, "incidents-list")

    api = _causes_naming(f"{server}/api/v1/incidents/{ident}", TARGET, CAUSE_WAIT_S)
    row.locator(f'a[href="#/incidents?id={ident}"]').first.click()
    page.wait_for_selector("#timeline tr[data-kind=alert_firing]")
    shown = page.locator("#causes > li.cause")
    assert shown.count() == len(api["causes"]) > 0
    assert any(f"on {TARGET}" in t for t in shown.all_inner_texts())
    assert f"on {api['causes'][0]['server']}" in shown.first.inner_text()
    assert f"score {api['causes'][0]['score']:.2f}" in shown.first.inner_text()
    link = shown.first.locator("a.promql").first
    promql = api["causes"][0]["evidence"][0]["promql"]
    href = str(link.get_attribute("href"))
    assert href.startswith("#/explorer?") and parse_qs(href.split("?", 1)[1])["q"] == [promql]
    shot(page, "incidents")

    page.click("button[data-act=ack]")
    page.wait_for_selector("#incident-status:text('acknowledged')")
    assert httpx.get(f"{server}/api/v1/incidents/{ident}", timeout=HTTP_TIMEOUT_S).json()["data"][
        "acknowledged_by"
    ] == ("dashboard")
    page.click("button[data-act=resolve]")
    page.wait_for_selector("#incident-status:text('resolved')")
    assert page.locator("button[data-act]").count() == 0

    link = page.locator("#causes a.promql").first
    link.click()
    page.wait_for_selector('.chart[data-chart="explorer"]')
    assert page.input_value("#explorer textarea") == promql


def test_assistant_panel_answers_with_sources_and_takes_a_rating(
    rules_server: str, page: Any, shot: Any
) -> None:
    server = rules_server
    page.goto(server + "/")
    page.wait_for_selector('#nav a[data-view="assistant"]:not([hidden])', timeout=5000)
    page.click('#nav a[data-view="assistant"]')
    page.fill("#ask textarea", "why is db-primary-01 slow?")
    page.click("#ask button[type=submit]")
    page.wait_for_selector("#answer", timeout=20_000)
    assert page.locator("#error").is_hidden()
    answer = page.inner_text("#answer .answer-text").strip()
    assert answer and "db-primary-01" in answer
    sources = page.locator("#sources li.source")
    assert sources.count() > 0
    ident = str(page.get_attribute("#answer", "data-id"))
    stored = httpx.get(
        f"{server}/api/v1/assistant/interactions/{ident}", timeout=HTTP_TIMEOUT_S
    ).json()["data"]
    assert stored["question"] == "why is db-primary-01 slow?"
    assert sources.count() == len(stored["evidence"]["facts"])
    first = stored["evidence"]["facts"][0]
    assert first["source"] in sources.first.inner_text()
    shot(page, "assistant")

    page.click("button[data-rate=down]")
    page.wait_for_selector("#rated[data-rating='1']")
    page.click("button[data-rate=up]")
    page.wait_for_selector("#rated[data-rating='5']")
    assert (
        httpx.get(f"{server}/api/v1/assistant/interactions/{ident}", timeout=HTTP_TIMEOUT_S).json()[
            "data"
        ]["rating"]
        == 5
    )
