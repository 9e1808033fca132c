"""The server view's log panel in headless Chromium: stored lines, filters, live lines."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import TICK_S, wait_for_menu

pytestmark = pytest.mark.slow

TIMEOUT_MS = 20_000


def rows(page: Any) -> list[dict[str, str]]:
    return list(
        page.eval_on_selector_all(
            "#logs tbody tr",
            "trs => trs.map(tr => ({level: tr.cells[1].textContent, msg: tr.cells[3].textContent}))",
        )
    )


def test_log_panel_shows_filters_and_streams_lines(server: str, page: Any, shot: Any) -> None:
    target = "worker-queue-01"
    page.goto(f"{server}/#/server/{target}")
    page.wait_for_selector("#logs tbody tr", timeout=TIMEOUT_MS)
    assert len(rows(page)) > 50  # two hours of backfill, about 4 lines a minute
    shot(page, "server-logs")

    page.fill("#log-filters input[name=q]", "Accepted publickey")
    page.click("#log-filters button[type=submit]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#logs td.msg')].every(td => "
        "td.textContent.includes('Accepted publickey'))",
        timeout=TIMEOUT_MS,
    )
    assert rows(page)
    page.fill("#log-filters input[name=q]", "")
    page.select_option("#log-filters select[name=level]", "error")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#logs td.lvl')].every(td => "
        "['error', 'critical'].includes(td.textContent))",
        timeout=TIMEOUT_MS,
    )

    page.wait_for_selector('#conn[data-state="live"]')
    r = httpx.post(
        f"{server}/api/v1/fleet/faults", json={"scenario": "service_crash", "server": target}
    )
    assert r.status_code == 200, r.text
    page.wait_for_function(
        "() => [...document.querySelectorAll('#logs td.msg')].some(td => "
        "td.textContent.includes('segfault'))",
        timeout=(2 * TICK_S + 3.0) * 1000,  # arrives live with the next ticks
    )
    assert all(r["level"] in ("error", "critical") for r in rows(page))
    wait_for_menu(page)
    shot(page, "server-logs-fault")
