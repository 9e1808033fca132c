"""Alert state across restarts (ALERTS_FOR_STATE restore) and reloads that keep or reject rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.alerting import AlertingRule, AlertState
from openmanager.rules.manager import RuleManager
from openmanager.samples import SampleBatch, make_labels

RULES = """groups:
  - name: g
    interval: 1m
    rules:
      - alert: Slow
        expr: latency > 1
        for: 30m
"""


def _storage() -> MemoryStorage:
    st = MemoryStorage()
    ts = np.arange(0, 7_200_000, 15_000, dtype=np.int64)
    st.append(
        SampleBatch.from_series([(make_labels("latency", {"i": "a"}), ts, np.full(len(ts), 2.0))])
    )
    return st


def _alert(m: RuleManager) -> AlertingRule:
    rule = m.groups[0].rules[0]
    assert isinstance(rule, AlertingRule)
    return rule


def test_pending_for_survives_restart(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    f.write_text(RULES)
    st = _storage()
    first = RuleManager(st, [str(f)], 60_000)
    assert first.reload().error is None
    for t in range(0, 11 * 60_000, 60_000):
        first.eval_group(first.groups[0], t)
    (a,) = _alert(first).active.values()
    assert a.state == AlertState.PENDING and a.active_at == 0
    # "restart" two minutes later: a new manager over the same storage
    second = RuleManager(st, [str(f)], 60_000)
    assert second.reload().error is None
    second.eval_group(second.groups[0], 12 * 60_000)
    second.eval_group(second.groups[0], 13 * 60_000)
    (b,) = _alert(second).active.values()
    # 10m were spent pending before going down at 10m; shifted by the 3m down time
    assert b.active_at == 3 * 60_000
    for t in range(14, 34):
        second.eval_group(second.groups[0], t * 60_000)
    assert b.state == AlertState.FIRING and b.fired_at == 33 * 60_000


def test_without_history_for_restarts(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    f.write_text(RULES)
    st = _storage()
    m = RuleManager(st, [str(f)], 60_000)
    m.reload()
    m.eval_group(m.groups[0], 12 * 60_000)
    m.eval_group(m.groups[0], 13 * 60_000)
    (a,) = _alert(m).active.values()
    assert a.active_at == 12 * 60_000


def test_broken_reload_keeps_previous_rules(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    f.write_text(RULES)
    m = RuleManager(_storage(), [str(f)], 60_000)
    assert m.reload().error is None
    for t in range(0, 5):
        m.eval_group(m.groups[0], t * 60_000)
    before = _alert(m)
    f.write_text(RULES.replace("for: 30m", "for: 30 minutes"))
    outcome = m.reload()
    assert outcome.error is not None and "r.yml:7:" in outcome.error
    assert m.groups[0].rules[0] is before and not m.last_reload_ok
    f.write_text(RULES + "      - record: lat:max\n        expr: max(latency)\n")
    assert m.reload().error is None
    assert [r.name for r in m.groups[0].rules] == ["Slow", "lat:max"]
    # the unchanged alerting rule kept its pending alert across the reload
    (a,) = _alert(m).active.values()
    assert a.active_at == 0


def test_restore_from_embedded_storage_after_reopen(tmp_path: Path) -> None:
    """ALERTS_FOR_STATE written to the real TSDB survives closing and reopening it."""
    import time

    from openmanager.config.settings import StorageSettings
    from openmanager.tsdb.factory import open_storage

    f = tmp_path / "r.yml"
    f.write_text(RULES)
    settings = StorageSettings(path=tmp_path / "data", wal_fsync=False)
    now = int(time.time() * 1000)
    t0 = now - now % 60_000 - 40 * 60_000
    st = open_storage(settings)
    ts = np.arange(t0, t0 + 40 * 60_000, 15_000, dtype=np.int64)
    lat = make_labels("latency", {"i": "a"})
    st.append(SampleBatch.from_series([(lat, ts, np.full(len(ts), 2.0))]))
    first = RuleManager(st, [str(f)], 60_000)
    first.reload()
    first._first_load = False
    first.groups[0].rules[0].restored = True  # type: ignore[union-attr]
    for k in range(11):
        first.eval_group(first.groups[0], t0 + k * 60_000)
    st.close()
    st = open_storage(settings)
    try:
        second = RuleManager(st, [str(f)], 60_000)
        second.reload()
        second.eval_group(second.groups[0], t0 + 12 * 60_000)
        second.eval_group(second.groups[0], t0 + 13 * 60_000)
        (b,) = _alert(second).active.values()
        assert b.active_at == t0 + 3 * 60_000
    finally:
        st.close()
