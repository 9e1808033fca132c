"""Embed OpenManager in a Python program: simulated fleet, an alert rule, callbacks and PromQL.

    python examples/embed_platform.py --seconds 30

Starts the services in this process (no HTTP server unless --http), subscribes to alerts,
anomalies and fleet status, crashes the service on k8s-api-01 and prints what happens.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from openmanager import Platform

RULES = """groups:
  - name: example
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: openmanager_service_up == 0
        labels: {severity: page}
        annotations: {summary: "{{ $labels.server }} is down"}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="How long to run at most.")
    parser.add_argument("--http", action="store_true", help="Also serve the API and dashboard.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="openmanager-embed-") as tmp:
        rules = Path(tmp) / "rules.yml"
        rules.write_text(RULES)
        fired = threading.Event()

        def on_alert(alert: dict[str, Any]) -> None:
            print(
                f"alert {alert['status']}: {alert['alertname']} {alert['labels'].get('server', '')}"
            )
            fired.set()

        def on_anomaly(anomaly: dict[str, Any]) -> None:
            print(f"anomaly: {anomaly['check']} on {anomaly['series']}")

        statuses: list[dict[str, Any]] = []
        platform = Platform(
            profile="test",
            serve_http=args.http,
            storage={"path": str(Path(tmp) / "data")},
            simulator={"interval": "1s", "backfill": "5m", "fault_rate_scale": 0},
            rules={"files": [str(rules)]},
        )
        platform.on("alert", on_alert)
        platform.on("anomaly_detected", on_anomaly)
        platform.on("system_status", statuses.append)
        with platform:
            if platform.url:
                print(f"serving on {platform.url}")
            fault = platform.trigger_fault("service_crash", "k8s-api-01")
            print(f"injected {fault['scenario']} on {fault['root_cause']['server']}")
            fired.wait(args.seconds)
            for row in platform.query('openmanager_service_up{server="k8s-api-01"}'):
                print(f"query: service_up{{server={row['metric']['server']}}} = {row['value'][1]}")
            cpu = platform.query(
                'avg(1 - rate(node_cpu_seconds_total{mode="idle"}[1m]))',
                start=time.time() - 600,
                step="1m",
            )
            print(f"range query: fleet cpu over 10m, {len(cpu[0]['values']) if cpu else 0} points")
            print(f"fleet status events: {len(statuses)}")
        print("stopped")


if __name__ == "__main__":
    main()
