"""The dashboard in headless Chromium against a real server: overview, faults, detail, explorer."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.web.conftest import TICK_S, wait_for_menu

pytestmark = pytest.mark.slow

CHART_TIMEOUT_MS = 20_000


def tile_status(page: Any, name: str) -> str:
    return str(page.get_attribute(f'.tile[data-server="{name}"]', "data-status"))


def test_overview_shows_the_fleet(server: str, page: Any, shot: Any) -> None:
    page.goto(server + "/")
    page.wait_for_function("document.querySelectorAll('.tile').length === 20")
    fleet = httpx.get(f"{server}/api/v1/fleet").json()["data"]
    names = {s["name"] for s in fleet["servers"]}
    shown = set(page.eval_on_selector_all(".tile", "els => els.map(e => e.dataset.server)"))
    assert shown == names and len(names) == 20
    assert page.inner_text("#total") == "20"
    page.wait_for_selector('#fleet-chart .chart:not([data-points="0"])', timeout=CHART_TIMEOUT_MS)
    page.wait_for_selector('#conn[data-state="live"]')
    wait_for_menu(page)
    shot(page, "overview")


def test_filters_narrow_the_tiles(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.wait_for_function("document.querySelectorAll('.tile').length === 20")
    fleet = httpx.get(f"{server}/api/v1/fleet").json()["data"]["servers"]
    databases = sorted(s["name"] for s in fleet if s["role"] == "database")
    page.select_option("select[name=role]", "database")
    page.wait_for_function(f"document.querySelectorAll('.tile').length === {len(databases)}")
    shown = page.eval_on_selector_all(".tile", "els => els.map(e => e.dataset.server)")
    assert sorted(shown) == databases
    assert page.inner_text("#total") == str(len(databases))


def test_injected_fault_turns_its_tile_critical_within_two_ticks(
    server: str, page: Any, shot: Any
) -> None:
    target = "k8s-api-01"
    page.goto(server + "/")
    page.wait_for_selector(f'.tile[data-server="{target}"]')
    page.wait_for_selector('#conn[data-state="live"]')
    assert tile_status(page, target) != "critical"
    started = time.monotonic()
    r = httpx.post(
        f"{server}/api/v1/fleet/faults", json={"scenario": "service_crash", "server": target}
    )
    assert r.status_code == 200, r.text
    page.wait_for_selector(
        f'.tile[data-server="{target}"][data-status="critical"]',
        timeout=(2 * TICK_S + 1.0) * 1000,  # two ticks, plus a second for a loaded machine
    )
    elapsed = time.monotonic() - started
    print(f"fault -> critical tile in {elapsed:.2f}s (tick {TICK_S}s)")
    assert "service down" in str(page.get_attribute(f'.tile[data-server="{target}"]', "title"))
    shot(page, "overview-fault")


def test_server_detail_charts_have_data_and_zoom(server: str, page: Any, shot: Any) -> None:
    page.goto(server + "/#/server/db-primary-01")
    charts = ["cpu", "memory", "disk", "network", "latency"]
    for chart in charts:
        page.wait_for_selector(
            f'.chart[data-chart="{chart}"]:not([data-points="0"])', timeout=CHART_TIMEOUT_MS
        )
    assert page.inner_text("#server-name") == "db-primary-01"
    assert page.get_attribute("#figures", "data-status") in ("healthy", "warning", "critical")
    wait_for_menu(page)
    shot(page, "server-detail")
    # drag across the CPU chart: the range becomes absolute and the charts reload with data
    before = int(page.get_attribute('.chart[data-chart="cpu"]', "data-points") or 0)
    over = page.locator('.chart[data-chart="cpu"] .u-over').bounding_box()
    y = over["y"] + over["height"] / 2
    page.mouse.move(over["x"] + over["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(over["x"] + over["width"] * 0.7, y, steps=5)
    page.mouse.up()
    page.wait_for_function("!document.querySelector('.range button.on')")
    page.wait_for_function(
        f"""() => {{
          const n = +document.querySelector('.chart[data-chart="cpu"]').dataset.points;
          return n > 0 && n !== {before};
        }}""",
        timeout=CHART_TIMEOUT_MS,
    )


def test_explorer_graphs_a_query(server: str, page: Any, shot: Any) -> None:
    page.goto(server + "/#/explorer")
    page.fill("textarea[name=expr]", "sum by (role) (rate(http_requests_total[5m]))")
    page.click("button[type=submit]")
    page.wait_for_selector('.chart[data-chart="explorer"]:not([data-points="0"])')
    roles = {s["role"] for s in httpx.get(f"{server}/api/v1/fleet").json()["data"]["servers"]}
    page.wait_for_function(
        f"document.querySelectorAll('#results tbody tr').length === {len(roles)}"
    )
    for role in roles:
        assert f'role="{role}"' in page.inner_text("#results")
    wait_for_menu(page)
    shot(page, "explorer")
    page.fill("textarea[name=expr]", "sum(rate(")
    page.click("button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error")


def test_phone_width_layout(server: str, browser: Any, shot: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(server + "/")
        page.wait_for_function("document.querySelectorAll('.tile').length === 20")
        page.wait_for_selector(
            '#fleet-chart .chart:not([data-points="0"])', timeout=CHART_TIMEOUT_MS
        )
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page is {width}px wide on a 390px screen"
        shot(page, "phone", full_page=False)
    finally:
        context.close()


def test_stream_reconnects_by_itself(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.wait_for_selector('#conn[data-state="live"]')
    page.evaluate("window.__om.live.socket.close()")
    page.wait_for_selector('#conn[data-state="reconnecting"]', timeout=5000)
    page.wait_for_selector('#conn[data-state="live"]', timeout=10_000)
    seen = page.evaluate("window.__om.live.lastMessageAt")
    page.wait_for_function(f"window.__om.live.lastMessageAt > {seen}", timeout=(TICK_S + 3) * 1000)


def test_optional_panels_follow_their_data_source(server: str, page: Any, shot: Any) -> None:
    page.goto(server + "/")
    page.wait_for_selector(".tile")
    for view, source in (("alerts", "/api/v1/alerts"), ("anomalies", "/api/v1/anomalies")):
        absent = httpx.get(server + source).status_code in (404, 405)
        link = f'#nav a[data-view="{view}"]'
        page.wait_for_function(
            f"document.querySelector('{link}').hidden === {str(absent).lower()}", timeout=5000
        )
        if not absent:  # the view renders the source's data, not an error
            page.click(link)
            page.wait_for_function(
                f"(e => e && !e.innerText.includes('loading'))(document.querySelector('#{view}'))"
            )
            assert page.locator(f"#{view} .error").count() == 0, page.inner_text(f"#{view}")
            if view == "alerts":
                states = page.eval_on_selector_all(
                    ".alert-group", "els => els.map(e => e.dataset.state)"
                )
                assert {"firing", "pending", "silenced"} <= set(states)
                shot(page, "alerts")
            page.goto(server + "/")
            page.wait_for_selector(".tile")


def test_forecast_panels_follow_their_data_source(server: str, page: Any, shot: Any) -> None:
    present = httpx.get(f"{server}/api/v1/forecast").status_code not in (404, 405)
    page.goto(server + "/#/server/db-primary-01")
    page.wait_for_selector(
        '.chart[data-chart="cpu"]:not([data-points="0"])', timeout=CHART_TIMEOUT_MS
    )
    if not present:
        page.wait_for_timeout(2000)
        assert page.locator("#forecasts").count() == 0
        return
    for chart in ("forecast-disk", "forecast-memory"):
        page.wait_for_selector(
            f'.chart[data-chart="{chart}"]:not([data-points="0"])', timeout=CHART_TIMEOUT_MS
        )
    items = page.locator(".exhaustion li")
    assert items.count() >= 3  # two mounts and memory, each with its time to the threshold
    assert "95" in items.first.inner_text()
    shot(page, "server-forecast")
