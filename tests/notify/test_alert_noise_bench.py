"""The notification-noise benchmark: consistent counts end to end, exact counts on a known timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from benchmarks.alert_noise import CONFIGS, dispatch, main
from openmanager.rules.outbound import PostableAlert

T0 = 1_700_006_400


def _posts(
    labels: list[dict[str, str]], fire_s: int, resolve_s: int
) -> list[tuple[int, list[PostableAlert]]]:
    """Alerts posted every minute from `fire_s` (ends 4 min ahead), then resolved at `resolve_s`."""
    out = []
    for t in range(T0 + fire_s, T0 + resolve_s + 1, 60):
        end = t if t == T0 + resolve_s else t + 240
        out.append(
            (
                t * 1000,
                [
                    PostableAlert(
                        labels=lb,
                        starts_at=datetime.fromtimestamp(T0 + fire_s, UTC),
                        ends_at=datetime.fromtimestamp(end, UTC),
                    )
                    for lb in labels
                ],
            )
        )
    return out


def test_grouping_and_inhibition_counts_on_known_timeline(tmp_path: Path) -> None:
    none, grouped, inhibited, by_env = CONFIGS.values()
    disks = [
        {"alertname": "HighDiskUsage", "server": "a", "mountpoint": m, "severity": "warning"}
        for m in ("/", "/data")
    ]
    posts = _posts(disks, 0, 1200)
    end = (T0 + 3600) * 1000
    env = [{**d, "server": s, "environment": "prod"} for d, s in zip(disks, "ab", strict=True)]
    # two servers of one environment: one group (firing + resolved) only when grouped by it
    env_posts = _posts(env, 0, 1200)
    assert dispatch(grouped, env_posts, end, tmp_path / "5.db").sent == 4
    assert dispatch(by_env, env_posts, end, tmp_path / "6.db").sent == 2
    # ungrouped: each alert firing + resolved; grouped by [alertname, server]: one of each
    assert dispatch(none, posts, end, tmp_path / "1.db").sent == 4
    assert dispatch(grouped, posts, end, tmp_path / "2.db").sent == 2

    cpu = [
        {"alertname": "CriticalCPU", "server": "a", "severity": "critical"},
        {"alertname": "HighCPU", "server": "a", "severity": "warning"},
    ]
    posts = _posts(cpu, 0, 1200)
    assert dispatch(grouped, posts, end, tmp_path / "3.db").sent == 4
    rx = dispatch(inhibited, posts, end, tmp_path / "4.db")
    assert rx.sent == 2  # HighCPU is inhibited by CriticalCPU on the same server
    assert {a.labels["alertname"] for a, _ in rx.first_firing.values()} == {"CriticalCPU"}
    ((_, first_at),) = rx.first_firing.values()
    assert first_at == T0 + 30  # group_wait on the fake clock


def test_benchmark_counts_are_consistent_over_simulated_hours() -> None:
    result = main(["--days", "0.25", "--seed", "2", "--fault-rate-scale", "30"])
    rows = result.rows
    assert len(rows) == len(CONFIGS)
    base = rows[0]
    assert base.alerts_fired == len(result.backtest.episodes) > 0
    assert base.faults == len(result.backtest.faults) > 0
    distinct = {e.labels for e in result.backtest.episodes}
    assert base.alerts_notified >= len(distinct)
    assert base.notifications >= base.alerts_notified
    for r in rows:
        assert r.alerts_fired == base.alerts_fired
        assert r.alerts_notified <= r.alerts_fired
        assert r.covered <= r.faults == base.faults
        assert (r.median_delay_s is None) == (r.covered == 0)
        assert r.notifications <= base.notifications
    # inhibition only ever removes notified alerts relative to the same grouping
    assert rows[2].alerts_notified <= rows[1].alerts_notified
    # every fault a notification covered was also caught by a firing alert in the backtest
    assert base.covered <= sum(f.caught_by is not None for f in result.backtest.faults)
