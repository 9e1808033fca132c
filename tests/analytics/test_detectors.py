"""Detectors: spikes found, quiet data quiet, gaps/NaN/constant/short history/counter resets safe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.analytics.detect.base import Detector
from openmanager.analytics.detect.registry import create, names
from openmanager.errors import InvalidInput, NotFound

GENERIC = [
    "robust_z",
    "iqr",
    "seasonal",
    "cusum",
    "isolation_forest",
    "ensemble",
    "server_ensemble",
    "adaptive",
]


def noisy(n_series: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(50.0, 2.0, (n_series, n))


@pytest.mark.parametrize("name", GENERIC + ["cpu_spike"])
def test_spike_scores_far_above_quiet_rows(name: str) -> None:
    x = noisy(4, 800)
    x[:, 700:702] += 40.0  # two samples: the ensemble wants a deviation to persist
    # 150 s steps: the spike falls on the second day, when "the same time yesterday" exists
    s = create(name, None, n_series=4).update(x, np.arange(800) * 150.0)
    assert s.shape == (4, 800)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(s[:, 700:702].max(axis=1) > np.quantile(s[:, 100:699], 0.99, axis=1))


def test_ensemble_needs_persistence_and_flags_a_repeated_fault_again() -> None:
    x = noisy(2, 3000)
    t = np.arange(3000) * 60.0
    x[0, 700] += 40.0  # one odd sample
    x[1, 700:720] += 40.0  # a fault ...
    x[1, 2000:2020] += 40.0  # ... and the same fault again
    s = create("server_ensemble", None, n_series=2).update(x, t)
    assert s[0, 700:702].max() < 0.5
    assert s[1, 700:720].max() >= 0.6
    assert s[1, 2000:2020].max() >= 0.6


def test_slow_rising_peaks_flag_a_fault_that_ramps_in() -> None:
    # a fault reaching full strength over 8 samples must not teach the calibration to ignore it
    # (with the default rise 1 the peaks climb with the ramp; rise < 1 makes them lag behind)
    rng = np.random.default_rng(7)
    x = rng.normal(50.0, 2.0, (2, 3000))
    ramp = np.minimum(np.arange(60) + 1, 8) * 5.0  # +5 per sample up to +40 (20 sigma)
    x[1, 1500:1560] += ramp
    x[1, 2500:2560] += ramp
    conf = {"rise": 0.1, "absorb_below": 1.2}
    s = create("server_ensemble", conf, n_series=2).update(x, np.arange(3000) * 60.0)
    assert s[1, 1500:1560].max() >= 0.65
    assert s[1, 2500:2560].max() >= 0.65
    assert (s[0] >= 0.65).sum() == 0 and (s[1, :1500] >= 0.65).sum() == 0


def test_a_fault_building_up_is_flagged_while_it_builds() -> None:
    # +0.5 sigma per sample: far off (> 6 sigma) for 12 samples long before it reaches the
    # flagging strength; the seasonal member must not restart and go blind for its warm-up
    rng = np.random.default_rng(3)
    x = rng.normal(50.0, 2.0, (1, 3000))
    x[0, 2000:2200] += np.arange(200) * 1.0
    t = np.arange(3000) * 60.0
    s = create("server_ensemble", None, n_series=1).update(x, t)[0]
    assert (s[:2000] >= 0.65).sum() == 0
    assert (s[2045:2100] >= 0.65).mean() > 0.5  # (restarting after 12 samples: 5%)


@pytest.mark.parametrize("name", sorted(set(names()) - {"composite_anomaly"}))
def test_gaps_nan_constant_and_short_history_do_not_flood(name: str) -> None:
    det = create(name, None, n_series=4)
    x = np.full((4, 400), 7.0)  # constant series
    x[1] = noisy(1, 400)[0]
    x[2, 50:120] = np.nan  # a gap
    x[3, :] = np.nan
    x[3, ::37] = 1.0  # very sparse
    t = np.arange(400) * 15.0
    t2 = t.copy()
    t2[200:] += 3600.0  # a hole in time
    s = det.update(x, np.broadcast_to(t2, x.shape))
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert (s[:, 0:3] == 0).all()  # nothing during warm-up
    assert (s[0] > 0.5).sum() == 0  # a constant series never alarms
    assert (s[2, 50:120] == 0).all()  # missing rows score 0
    assert (s > 0.5).sum() <= 8


def test_counter_reset_is_not_an_anomaly_but_a_rate_surge_is() -> None:
    rng = np.random.default_rng(1)
    rate = rng.normal(1000.0, 30.0, (2, 600)).clip(1)
    rate[1, 500:] *= 8.0  # traffic surge on series 1 only
    counter = np.cumsum(rate * 15.0, axis=1)
    counter[0, 300:] -= counter[0, 299]  # series 0 restarts (counter reset) at row 300
    counter[0, 300:] = np.maximum(counter[0, 300:], 0.0)
    s = create("network_anomaly", None, n_series=2).update(counter, np.arange(600) * 15.0)
    assert s[0, 295:310].max() < 0.5
    assert s[1, 500:503].max() > 0.5


def test_memory_leak_flags_sustained_growth_only() -> None:
    rng = np.random.default_rng(2)
    x = 40.0 + rng.normal(0.0, 0.5, (2, 600))
    x[1, 300:] += np.arange(300) * 0.1  # steady growth on series 1
    s = create("memory_leak", None, n_series=2).update(x, np.arange(600) * 60.0)
    assert s[0].max() < 0.5
    assert s[1, 300:].max() > 0.5
    first = int(np.argmax(s[1] > 0.5))
    assert 300 <= first < 420


def test_memory_leak_down_watches_a_sustained_decline() -> None:
    rng = np.random.default_rng(2)
    x = 40.0 + rng.normal(0.0, 0.5, (2, 600))
    x[1, 300:] -= np.arange(300) * 0.1  # free memory shrinking steadily on series 1
    t = np.arange(600) * 60.0
    down = create("memory_leak", {"direction": "down"}, n_series=2).update(x, t)
    up = create("memory_leak", None, n_series=2).update(x, t)
    assert down[0].max() < 0.5 and down[1, 300:].max() > 0.5
    assert up.max() < 0.5


def test_disk_fill_rate_change() -> None:
    rng = np.random.default_rng(3)
    used = 30.0 + np.cumsum(np.abs(rng.normal(0.001, 0.001, (2, 800))), axis=1)
    used[1, 600:] += np.cumsum(np.full(200, 0.2))  # fills 100x faster from row 600
    s = create("disk_anomaly", None, n_series=2).update(used, np.arange(800) * 60.0)
    assert s[0, 100:].max() < 0.5
    assert s[1, 600:640].max() > 0.5


def test_composite_needs_several_metrics_of_one_server() -> None:
    x = noisy(8, 500, seed=4)  # two servers x four metrics
    x[0, 450] += 15.0  # one metric of server 0
    x[4:7, 450] += 15.0  # three metrics of server 1
    s = create("composite_anomaly", {"group": 4}, n_series=8).update(x, np.arange(500) * 15.0)
    assert s[:4, 450].max() < 0.5
    assert s[4:, 450].min() > 0.5


def test_seasonal_knows_yesterday() -> None:
    t = np.arange(0, 6 * 86400, 300.0)
    day = 50 + 30 * np.sin(2 * np.pi * t / 86400)
    x = np.vstack([day, day]) + np.random.default_rng(5).normal(0, 1.0, (2, len(t)))
    late = len(t) - 100
    x[1, late] = 50 + 30 * np.sin(2 * np.pi * t[late] / 86400 + np.pi)  # value of the other phase
    s = create("seasonal", None, n_series=2).update(x, t)
    assert s[1, late] > 0.5 and s[0, late] < 0.5
    assert (s[0, len(t) // 2 :] > 0.5).sum() <= 2


def test_seasonal_recurring_step_inside_a_slot_is_expected() -> None:
    # free space: falls all day, jumps back at a fixed minute 7 min into a 15-min slot (log
    # rotation); the slot's profile holds the post-step level, so the minutes before the step
    # look like a deep drop every day unless a deviation that recurs daily is expected
    t = np.arange(0, 6 * 86400, 60.0)
    x = 100 - 3.0 * ((t / 86400 + 0.3 + 7.0 / 1440) % 1.0)
    x = np.vstack([x, x]) + np.random.default_rng(7).normal(0, 0.01, (2, len(t)))
    drop = slice(4 * 1440 + 300, 4 * 1440 + 360)
    x[1, drop] -= 1.0  # a real drop on day 5, at another time of day
    late = slice(3 * 1440, None)  # days 4-6: the step was seen on a previous day
    seasonal = {"direction": "down", "window": 1000}
    flags, fault = [], []
    for recurring in (False, True):
        members = [
            ["seasonal", {"window": 1000, "recurring": recurring}],
            ["iqr", {"window": 1000}],
        ]
        conf = {"direction": "down", "members": members}
        flags.append(int((create("server_ensemble", conf, 2).update(x, t)[0, late] >= 0.65).sum()))
        s = create("seasonal", {**seasonal, "recurring": recurring}, 2).update(x, t)
        fault.append(float(s[1, drop].max()))
    assert flags[0] >= 3 and flags[1] == 0  # flagged each day before, never now
    assert fault[1] == fault[0] > 0.5  # a deviation new to its slot is scored as before


def test_streaming_equals_batch_and_score_has_no_side_effect() -> None:
    x = noisy(3, 300)
    t = np.arange(300) * 10.0
    batch = create("ensemble", None, n_series=3).update(x, t)
    det = create("ensemble", None, n_series=3)
    peek = det.score(x[:, :10], t[:10])
    stream = np.stack([det.update(x[:, j], t[j]) for j in range(300)], axis=1)
    np.testing.assert_allclose(stream, batch)
    np.testing.assert_allclose(peek, batch[:, :10])


def test_no_look_ahead() -> None:
    x = noisy(2, 400)
    t = np.arange(400) * 10.0
    a = create("ensemble", None, n_series=2).update(x, t)
    y = x.copy()
    y[:, 300:] += 100.0  # the future changes
    b = create("ensemble", None, n_series=2).update(y, t)
    np.testing.assert_array_equal(a[:, :300], b[:, :300])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    x = noisy(2, 300)
    t = np.arange(300) * 10.0
    det = create("ensemble", None, n_series=2)
    det.update(x[:, :200], t[:200])
    det.save(tmp_path / "d")
    again = Detector.load(tmp_path / "d")
    np.testing.assert_allclose(again.update(x[:, 200:], t[200:]), det.update(x[:, 200:], t[200:]))


def test_registry_and_config_errors() -> None:
    with pytest.raises(NotFound):
        create("nope")
    with pytest.raises(InvalidInput, match="unknown setting"):
        create("robust_z", {"windw": 3})
    with pytest.raises(InvalidInput):
        create("robust_z", {"window": 1})
    with pytest.raises(InvalidInput, match="rise"):
        create("server_ensemble", {"rise": 0.0})
    with pytest.raises(InvalidInput):
        create("robust_z").update(np.zeros((3, 4)))


def test_saturation_flags_a_noisy_series_pinned_at_its_top_only() -> None:
    x = noisy(4, 600, seed=5).clip(None, 54.0)  # clipped noise touches 54 now and then
    x[0, 400:430] = 54.0  # pinned at the top of its range
    x[1, 400:430] = 43.0  # stuck at the bottom: not "up"
    x[2] = 50.0  # always constant: never moving, never stuck
    x[3, 400:430] = 50.0  # stuck in the middle of its range
    s = create("saturation", {"direction": "up"}, n_series=4).update(x, np.arange(600) * 60.0)
    assert (s[0, 403:430] > 0.5).all() and s[0, :402].max() < 0.5
    assert (s[:, :400] > 0.5).sum() <= 3  # two clipped samples in a row: rare, not never
    assert s[1:, 400:].max() < 0.5 and s[2].max() < 0.5
    down = create("saturation", {"direction": "down"}, n_series=4).update(x, np.arange(600) * 60.0)
    assert (down[1, 403:430] > 0.5).all() and down[3].max() < 0.5


def test_server_ensemble_flags_a_busy_cpu_pinned_at_its_limit() -> None:
    # a busy CPU (~90 %, noise 2) pinned at 100 %: a 5-sigma jump, but it stops moving at all
    x = noisy(2, 3000, seed=6) + 40.0
    x[1, 2500:2530] = 100.0
    conf = {"direction": "up"}
    s = create("server_ensemble", conf, n_series=2).update(
        x.clip(None, 100.0), np.arange(3000) * 60.0
    )
    assert (s[1, 2500:2506] >= 0.65).any()
    assert (s[:, 1440:2500] >= 0.65).sum() == 0 and (s[0] >= 0.65).sum() == 0
    members = [["seasonal", {"window": 1000, "recurring": True}], ["iqr", {"window": 1000}]]
    without = create("server_ensemble", {**conf, "members": members}, 2).update(
        x, np.arange(3000) * 60.0
    )
    assert without[1, 2500:2530].max() < 0.65
