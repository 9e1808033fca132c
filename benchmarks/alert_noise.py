"""Notification noise over a simulated week: alerts fired, notifications sent, faults covered.

The simulator (faults on) writes a week of fleet history; `run_backtest` replays the default
rule pack over it; the firing episodes become the alerts the rules service would post at each
evaluation (Prometheus's resend logic, `AlertingRule.alerts_to_send` + `to_postable`); those go
through the real notify `Dispatcher` on a fake clock with a counting receiver, once per
Alertmanager configuration (no grouping; grouping by alert and server; the same plus
inhibition; grouping by the fleet's cluster-like `environment` label plus inhibition).

    python benchmarks/alert_noise.py --days 7 --seed 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from openmanager.config.settings import NotifySettings, SimulatorSettings
from openmanager.notify.config import parse_config
from openmanager.notify.dispatch import Dispatcher
from openmanager.notify.flap import FlapDetector
from openmanager.notify.model import Alert
from openmanager.notify.receivers.base import Integration, Message
from openmanager.notify.store import SqliteNotifyStore
from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.alerting import Alert as RuleAlert
from openmanager.rules.alerting import AlertingRule, AlertState
from openmanager.rules.backtest import BacktestReport, Episode, fault_coverage, run_backtest
from openmanager.rules.group import DEFAULT_RESEND_DELAY_MS, build_groups
from openmanager.rules.manager import to_postable
from openmanager.rules.outbound import PostableAlert
from openmanager.rules.rulefile import GroupSpec, parse_rule_file
from openmanager.simulate import Simulator
from openmanager.simulate.faults import FaultRecord
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

HOUR_MS = 3_600_000
PACK = Path(__file__).resolve().parents[1] / "openmanager" / "rules" / "default_rules.yaml"
START_MS = 1_700_006_400_000
"""A fixed, hour-aligned start so runs are reproducible."""
WARMUP_MS = HOUR_MS
"""History simulated before the evaluated range, so `rate[5m]` and `predict_linear[1h]` have data."""
EVAL_INTERVAL_MS = 60_000
RESOLVED_KEEP_MS = 15 * 60_000
"""Prometheus keeps posting a resolved alert for 15 minutes."""

_ROUTE = "  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\n"
_RECEIVERS = "receivers:\n  - name: count\n"
_INHIBIT = """inhibit_rules:
  - source_matchers: [alertname="CriticalCPU"]
    target_matchers: [alertname="HighCPU"]
    equal: [server]
  - source_matchers: [alertname="CriticalMemory"]
    target_matchers: [alertname="HighMemory"]
    equal: [server]
  - source_matchers: [alertname="DiskFullIn4Hours"]
    target_matchers: [alertname="HighDiskUsage"]
    equal: [server, mountpoint]
  - source_matchers: [alertname="ServiceDown"]
    target_matchers: [alertname=~"HighErrorRatio|SlowResponses"]
    equal: [server]
"""
CONFIGS: dict[str, str] = {
    "no grouping, no inhibition": (
        "route:\n  receiver: count\n  group_by: ['...']\n" + _ROUTE + _RECEIVERS
    ),
    "group_by [alertname, server]": (
        "route:\n  receiver: count\n  group_by: [alertname, server]\n" + _ROUTE + _RECEIVERS
    ),
    "group_by [alertname, server] + inhibition": (
        "route:\n  receiver: count\n  group_by: [alertname, server]\n"
        + _ROUTE
        + _RECEIVERS
        + _INHIBIT
    ),
    "group_by [environment] + inhibition": (
        "route:\n  receiver: count\n  group_by: [environment]\n" + _ROUTE + _RECEIVERS + _INHIBIT
    ),
}
"""Alertmanager-dialect configurations compared (timers are Alertmanager's usual ones)."""


@dataclass
class CountingReceiver:
    """An integration that only counts: notifications, and when each alert was first notified."""

    kind: str = "count"
    send_resolved: bool = True
    sent: int = 0
    first_firing: dict[tuple[str, float], tuple[Alert, float]] = field(default_factory=dict)

    def notify(self, message: Message) -> None:
        self.sent += 1
        for a in message.firing:
            self.first_firing.setdefault((a.fingerprint, a.starts_at), (a, message.now))


@dataclass
class Row:
    """One configuration's result."""

    config: str
    alerts_fired: int
    alerts_notified: int
    notifications: int
    faults: int
    covered: int
    median_delay_s: float | None


@dataclass
class Result:
    """The whole benchmark: per-configuration rows plus what the rules side found."""

    rows: list[Row]
    backtest: BacktestReport
    posts: int
    seconds: dict[str, float]


def _progress(text: str) -> None:
    print(f"[alert_noise] {text}", file=sys.stderr, flush=True)


def simulate(
    days: float, seed: int, fault_rate_scale: float
) -> tuple[MemoryStorage, list[FaultRecord], int, int]:
    """Simulate [start - warm-up, end] with faults on; the faults starting in [start, end]."""
    end = START_MS + int(days * 24 * HOUR_MS)
    sim = Simulator(
        SimulatorSettings(
            seed=seed, servers=20, interval="60s", faults=True, fault_rate_scale=fault_rate_scale
        ),
        start_ms=START_MS - WARMUP_MS,
    )
    storage = MemoryStorage()
    for batch in sim.generate(START_MS - WARMUP_MS, end + 1):
        storage.append(batch)
    faults = [f for f in sim.faults_between(START_MS, end) if START_MS <= f.start_ms <= end]
    return storage, faults, START_MS, end


def alert_posts(
    specs: Sequence[GroupSpec], report: BacktestReport
) -> list[tuple[int, list[PostableAlert]]]:
    """What the rules service posts, evaluation by evaluation, for the backtest's episodes.

    Each group's alerting rules get their episodes as active alerts (firing, then resolved and
    kept 15 minutes); the rule's own `alerts_to_send` decides what is (re)sent when.
    """
    by_rule: dict[str, list[Episode]] = {}
    for ep in report.episodes:
        by_rule.setdefault(ep.rule, []).append(ep)
    posts: dict[int, list[PostableAlert]] = {}
    for g in build_groups(specs, EVAL_INTERVAL_MS):
        first = g.eval_timestamp(report.start_ms)
        if first < report.start_ms:
            first += g.interval_ms
        for rule in g.rules:
            if not isinstance(rule, AlertingRule):
                continue
            episodes = by_rule.get(rule.name, [])
            if not episodes:
                continue
            starting = {ep.fired_ms: [] for ep in episodes}  # type: dict[int, list[int]]
            ending = {ep.end_ms: [] for ep in episodes}  # type: dict[int | None, list[int]]
            for i, ep in enumerate(episodes):
                starting[ep.fired_ms].append(i)
                ending[ep.end_ms].append(i)
            live: dict[int, RuleAlert] = {}
            for ts in range(first, report.end_ms + 1, g.interval_ms):
                for i in ending.get(ts, []):
                    if i in live:
                        live[i].state = AlertState.INACTIVE
                        live[i].resolved_at = ts
                for i in starting.get(ts, []):
                    ep = episodes[i]
                    for j in [j for j, a in live.items() if a.labels == ep.labels]:
                        del live[j]  # a new episode replaces the resolved alert it resembles
                    live[i] = RuleAlert(
                        ep.labels, (), AlertState.FIRING, ep.pending_since_ms, 1.0, ep.fired_ms
                    )
                for i in [
                    i
                    for i, a in live.items()
                    if a.resolved_at and ts - a.resolved_at > RESOLVED_KEEP_MS
                ]:
                    del live[i]
                rule.active = {a.labels: a for a in live.values()}
                due = rule.alerts_to_send(ts, DEFAULT_RESEND_DELAY_MS, g.interval_ms)
                if due:
                    posts.setdefault(ts, []).extend(to_postable(due, rule.spec.expr, "", {}))
    return sorted(posts.items())


def dispatch(
    config_text: str, posts: Sequence[tuple[int, list[PostableAlert]]], end_ms: int, db: Path
) -> CountingReceiver:
    """Feed the posts through the real dispatcher on a fake clock; flush exactly when due."""
    cfg = parse_config(config_text)
    receiver = CountingReceiver()
    integrations: dict[str, list[Integration]] = {"count": [receiver]}
    defaults = NotifySettings()
    store = SqliteNotifyStore(db)

    def submit(name: str, index: int, message: Message, done: object) -> None:
        integrations[name][index].notify(message)
        done(True, 1, "")  # type: ignore[operator]

    disp = Dispatcher(
        cfg,
        integrations,
        submit,
        store,
        silences=lambda: [],
        flaps=FlapDetector(defaults.flap_threshold, parse_duration(defaults.flap_window) / 1000),
    )

    def flush_until(t: float) -> None:
        while disp.groups:
            due = min(g.next_flush for g in disp.groups.values())
            if due > t:
                return
            disp.tick(due)

    try:
        for ts, alerts in posts:
            now = ts / 1000
            flush_until(now)
            disp.ingest([Alert.from_postable(a, now, cfg.resolve_timeout_s) for a in alerts], now)
            disp.tick(now)
        flush_until(end_ms / 1000)
    finally:
        store.close()
    return receiver


def _row(
    name: str, report: BacktestReport, faults: Sequence[FaultRecord], rx: CountingReceiver
) -> Row:
    notified = sorted(rx.first_firing.values(), key=lambda p: p[1])
    pseudo = [
        Episode(a.labels.get("alertname", ""), tuple(sorted(a.labels.items())), 0, int(at * 1000))
        for a, at in notified
    ]
    cov = [fault_coverage(f, pseudo) for f in faults]
    delays = [c.delay_ms / 1000 for c in cov if c.delay_ms is not None]
    return Row(
        name,
        len(report.episodes),
        len(notified),
        rx.sent,
        len(faults),
        len(delays),
        statistics.median(delays) if delays else None,
    )


def run(days: float = 7, seed: int = 1, fault_rate_scale: float = 1.0) -> Result:
    """The whole benchmark; progress goes to stderr."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    _progress(f"simulating {days:g} days of a 20-server fleet (seed {seed}, faults on)")
    storage, faults, start, end = simulate(days, seed, fault_rate_scale)
    seconds["simulate"] = time.perf_counter() - t
    t = time.perf_counter()
    _progress(f"backtesting the default rule pack ({len(faults)} faults in ground truth)")
    specs = parse_rule_file(PACK)
    report = run_backtest(
        specs, cast(Storage, storage), start, end, EVAL_INTERVAL_MS, faults=faults
    )
    seconds["backtest"] = time.perf_counter() - t
    t = time.perf_counter()
    posts = alert_posts(specs, report)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, text) in enumerate(CONFIGS.items()):
            _progress(f"dispatching {len(posts)} posts: config {i + 1}/{len(CONFIGS)} ({name})")
            rx = dispatch(text, posts, end, Path(tmp) / f"notify{i}.db")
            rows.append(_row(name, report, faults, rx))
    seconds["dispatch"] = time.perf_counter() - t
    return Result(rows, report, sum(len(a) for _, a in posts), seconds)


def format_table(result: Result) -> str:
    """A plain-text table of the rows."""
    head = (
        "configuration",
        "alerts fired",
        "alerts notified",
        "notifications",
        "faults",
        "covered",
        "median delay",
    )
    lines = [head]
    for r in result.rows:
        delay = "-" if r.median_delay_s is None else f"{r.median_delay_s / 60:.1f} min"
        lines.append(
            (
                r.config,
                str(r.alerts_fired),
                str(r.alerts_notified),
                str(r.notifications),
                str(r.faults),
                str(r.covered),
                delay,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> Result:
    """Command line: run, print the table and the backtest's own fault coverage."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--days", type=float, default=7.0, help="simulated days (default 7)")
    p.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    p.add_argument(
        "--fault-rate-scale", type=float, default=1.0, help="multiplier on fault probabilities"
    )
    args = p.parse_args(argv)
    result = run(args.days, args.seed, args.fault_rate_scale)
    rep = result.backtest
    caught = sum(f.caught_by is not None for f in rep.faults)
    print(format_table(result))
    print(
        f"\nrules side (backtest): {len(rep.episodes)} alerts, {caught}/{len(rep.faults)} faults"
        f" caught by a firing alert, {result.posts} alerts posted to the dispatcher;"
        f" errors: {len(rep.errors)}"
    )
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    return result


if __name__ == "__main__":
    main()
