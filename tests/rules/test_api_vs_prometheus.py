"""`/api/v1/rules` and `/api/v1/alerts` have the same JSON as a real Prometheus on the same rules."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.apijson import alerts_json, groups_json
from openmanager.rules.manager import RuleManager
from tests.peers import run_prometheus

RULES = """groups:
  - name: shapes
    interval: 1s
    rules:
      - record: job:x
        expr: vector(2)
        labels: {a: b}
      - alert: Fixed
        expr: vector(3) > 1
        for: 1h
        keep_firing_for: 5m
        labels: {severity: page}
        annotations: {summary: 'v {{ $value }}'}
"""
VOLATILE = {"evaluationTime", "lastEvaluation", "activeAt", "file"}


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


@pytest.mark.slow
def test_rules_and_alerts_json_match_prometheus(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = f"global:\n  evaluation_interval: 1s\nrule_files: [{rules}]\n"
    with run_prometheus(tmp_path, config) as url:
        deadline = time.monotonic() + 30
        while True:
            theirs = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]
            if theirs["groups"] and theirs["groups"][0]["rules"][1]["alerts"]:
                break
            assert time.monotonic() < deadline, theirs
            time.sleep(0.3)
        their_alerts = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]

    manager = RuleManager(MemoryStorage(), [str(rules)], 60_000)
    assert manager.reload().error is None
    manager.eval_group(manager.groups[0], int(time.time() * 1000))
    ours = groups_json(manager.groups)
    assert _strip(ours) == _strip(theirs)
    assert ours["groups"][0]["file"] == theirs["groups"][0]["file"]
    assert _strip(alerts_json(manager.groups)) == _strip(their_alerts)
    # same key order as Prometheus, too
    assert list(ours["groups"][0]["rules"][1]) == list(theirs["groups"][0]["rules"][1])


EXPRS = [
    'up{job="node",instance=~"a.*"}',
    "sum   by(job)(rate(http_requests_total[5m]))>0.5",
    "avg without (cpu,mode) (rate(node_cpu_seconds_total{mode='idle'}[90s]))",
    "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600) < 0\nand on(instance) up == 1",
    "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))",
    "topk(3, x) unless ignoring(z) y",
    "a * on(i) group_left(j) b",
    "-x offset 1h30m",
    "max_over_time(x[10m:1m])",
    'count_values("v", x) > bool 1e6',
    "(x + 1) / 2",
    'absent(nonexistent{a="b"})',
]


@pytest.mark.slow
def test_query_text_is_prometheus_canonical_form(tmp_path: Path) -> None:
    from openmanager.rules.exprfmt import canonical

    rules = tmp_path / "rules.yml"
    lines = ["groups:", "  - name: exprs", "    rules:"]
    for i, expr in enumerate(EXPRS):
        lines += [f"      - record: r{i}", f"        expr: {json.dumps(expr)}"]
    rules.write_text("\n".join(lines) + "\n")
    config = f"global:\n  evaluation_interval: 1h\nrule_files: [{rules}]\n"
    with run_prometheus(tmp_path, config) as url:
        groups = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    theirs = [r["query"] for r in groups[0]["rules"]]
    assert [canonical(e) for e in EXPRS] == theirs
