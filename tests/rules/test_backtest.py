"""Backtesting replays rules over history exactly as live evaluation would, and scores faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmanager.config.settings import SimulatorSettings
from openmanager.promql.engine import Engine
from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.alerting import AlertingRule, AlertState
from openmanager.rules.backtest import run_backtest
from openmanager.rules.group import build_groups, engine_query
from openmanager.rules.rulefile import parse_rule_file
from openmanager.simulate import Simulator

HOUR = 3_600_000
PACK = Path(__file__).parents[2] / "openmanager" / "rules" / "default_rules.yaml"
START = 1_700_000_000_000 - 1_700_000_000_000 % HOUR


def _history(hours: int) -> tuple[MemoryStorage, Simulator]:
    sim = Simulator(SimulatorSettings(servers=20, interval="60s", faults=False), start_ms=START)
    sim.trigger("service_crash", at_ms=START + 20 * 60_000)
    sim.trigger("disk_full", at_ms=START + 10 * 60_000)
    st = MemoryStorage()
    for batch in sim.generate(START, START + hours * HOUR):
        st.append(batch)
    return st, sim


@pytest.mark.slow
def test_backtest_matches_live_evaluation_and_scores_faults() -> None:
    st, sim = _history(2)
    end = START + 2 * HOUR
    specs = parse_rule_file(PACK)
    faults = sim.faults_between(START, end)
    report = run_backtest(specs, st, START, end, faults=faults)
    assert not report.errors

    # live evaluation, one instant query per rule per step, on the same data
    live = MemoryStorage()
    for s in st.select([], START, end):
        from openmanager.samples import SampleBatch

        live.append(SampleBatch.from_series([(s.labels, s.timestamps, s.values)]))
    query = engine_query(Engine(live))  # type: ignore[arg-type]
    fired: set[tuple[str, tuple[tuple[str, str], ...], int]] = set()
    for g in build_groups(specs, 60_000):
        first = g.eval_timestamp(START)
        first += g.interval_ms if first < START else 0
        for ts in range(first, end + 1, g.interval_ms):
            g.eval(ts, query, live.append)
            for r in g.rules:
                if isinstance(r, AlertingRule):
                    for a in r.active.values():
                        if a.state == AlertState.FIRING and a.fired_at == ts:
                            fired.add((r.name, a.labels, ts))
    replayed = {(e.rule, e.labels, e.fired_ms) for e in report.episodes}
    assert replayed == fired
    assert fired, "the injected faults should fire at least one default alert"

    caught = [f for f in report.faults if f.caught_by is not None]
    assert caught
    for f in caught:
        assert f.delay_ms is not None and f.delay_ms >= 0
        assert any(f'server="{s}"' in (f.caught_by or "") for s in f.servers)
    assert report.notifications >= len(report.episodes)


def test_cli_backtest_reports_json(tmp_path: Path) -> None:
    from openmanager.cli.main import app

    rules = tmp_path / "r.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Always\n        expr: vector(1)\n"
        "        for: 2m\n"
    )
    config = tmp_path / "om.yml"
    config.write_text(f"profile: test\nstorage:\n  path: {tmp_path / 'data'}\n")
    out = CliRunner().invoke(
        app,
        [
            "rules",
            "backtest",
            str(rules),
            "--since",
            "30m",
            "--until",
            "1700000400",
            "--json",
            "--config",
            str(config),
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["alerts_fired"] == 1
    (ep,) = data["episodes"]
    # first evaluation slot at or after the start, plus the 2m hold
    assert ep["fired_ms"] - ep["pending_since_ms"] == 120_000
    assert ep["resolved_ms"] is None and ep["notifications"] == 1
