"""A real `openmanager serve` with a fast, calm simulated fleet, and Debian's Chromium via Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import require, require_binary
from tests.serve_process import serve_process

TICK_S = 2.0
"""The simulator interval in these tests: faults must show within two of them."""

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a served fleet: 20 servers, a tick every TICK_S, no random faults."""
    root = tmp_path_factory.mktemp("serve")
    config = root / "openmanager.yaml"
    config.write_text(
        f"simulator:\n  interval: {int(TICK_S)}s\n  backfill: 2h\n  fault_rate_scale: 0\n"
    )
    with serve_process(root / "data", "--config", str(config), timeout_s=120) as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian (`apt-get install chromium`), driven by Playwright."""
    path = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install -e '.[test]')")
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def console_error(message: Any) -> bool:
    """A console error other than the browser's own note on a probed 404 (absent panels)."""
    return bool(message.type == "error" and "Failed to load resource" not in message.text)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh desktop-sized page; console errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(m.text) if console_error(m) else None)
    yield p
    context.close()
    assert not errors, f"browser errors: {errors}"


MENU_VIEWS = ("alerts", "anomalies", "incidents", "assistant")
"""Menu links that appear once the page's probes find their APIs (the served app has them all)."""


def wait_for_menu(page: Any) -> None:
    """Every menu link shown: screenshots for the README show the whole menu."""
    for view in MENU_VIEWS:
        page.wait_for_selector(f'#nav a[data-view="{view}"]:not([hidden])', timeout=10_000)


@pytest.fixture
def shot(tmp_path: Path) -> Any:
    """Save a screenshot under the test's tmp dir (the artifact) and copy it to docs/screenshots."""

    def take(page: Any, name: str, full_page: bool = True) -> Path:
        out = tmp_path / f"{name}.png"
        page.screenshot(path=str(out), full_page=full_page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, SCREENSHOTS / out.name)
        return out

    return take
