"""Dashboard page weight and time to first chart on the overview, in headless Chromium (Debian's).

Starts `openmanager serve`, loads `/` `--loads` times in fresh browser contexts (cold cache) and
reports bytes transferred (document + every resource, compressed as sent) and the time from
navigation start to the first chart with data (the page's `om-first-chart` performance mark),
plus DOMContentLoaded and the load event. Run: `python benchmarks/ws_dashboard_load.py`.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from ws_fanout import start_server

TIMING_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const mark = performance.getEntriesByName('om-first-chart')[0];
  return {
    first_chart_ms: mark ? mark.startTime : null,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    load_ms: nav.loadEventEnd,
    bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
    static_bytes: nav.transferSize + res.filter(r => r.name.includes('/static/'))
      .reduce((a, r) => a + r.transferSize, 0),
    decoded_static_bytes: nav.decodedBodySize + res.filter(r => r.name.includes('/static/'))
      .reduce((a, r) => a + r.decodedBodySize, 0),
    requests: res.length + 1,
  };
}"""


def measure(url: str, loads: int) -> list[dict[str, Any]]:
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url + "/")
            page.wait_for_function("performance.getEntriesByName('om-first-chart').length > 0")
            page.wait_for_load_state("load")
            rows.append(page.evaluate(TIMING_JS))
            context.close()
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp), 15)
        try:
            rows = measure(url, args.loads)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    summary = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(json.dumps({"loads": len(rows), "median": summary, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
