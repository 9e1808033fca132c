"""The adaptive_day detector: a day unlike yesterday stands out; no look-ahead; safe on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.analytics.detect.adaptive_day import AdaptiveDay, AdaptiveDayConfig
from openmanager.analytics.detect.base import Detector
from openmanager.analytics.detect.registry import create, names
from openmanager.errors import InvalidInput

DAY = 288  # samples of 300 s


def daily(n: int, seed: int = 3) -> np.ndarray:
    """A daily square wave (20 low, 80 high) with a little noise, 5-minute samples."""
    phase = (np.arange(n) % DAY) >= DAY // 2
    return 20.0 + 60.0 * phase + np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_registered_by_name_and_config_round_trips() -> None:
    assert "adaptive_day" in names()
    det = create("adaptive_day", {"day_weight": 0.3, "day_cap": 100}, n_series=2)
    assert isinstance(det, AdaptiveDay) and det.config.day_cap == 100
    assert AdaptiveDayConfig.from_dict(det.config.to_dict()) == det.config
    for bad in ({"day_weight": -1.0}, {"day_cap": 0}, {"day_forget": 0.5}, {"quiet": 1.0}):
        with pytest.raises(InvalidInput):
            create("adaptive_day", bad)


def test_missing_high_phase_stands_out_only_with_the_day_member() -> None:
    n = 8 * DAY
    x = np.stack([daily(n), daily(n)])
    gone = 6 * DAY + DAY // 2
    x[1, gone : gone + DAY // 2] = 20.0 + np.random.default_rng(4).normal(0.0, 1.0, DAY // 2)
    t = np.arange(n) * 300.0
    with_day = create("adaptive_day", None, n_series=2).update(x, t)
    without = create("adaptive_day", {"day_weight": 0.0}, n_series=2).update(x, t)
    hit, hit0 = with_day[1, gone : gone + 60].max(), without[1, gone : gone + 60].max()
    assert hit > 1.5 * hit0
    assert hit > 1.5 * with_day[0, gone:].max()


def test_no_look_ahead_and_chunking_does_not_matter() -> None:
    x = np.stack([daily(900), np.random.default_rng(1).normal(5.0, 1.0, 900)])
    t = np.arange(900) * 300.0
    whole = create("adaptive_day", None, n_series=2).update(x, t)
    y = x.copy()
    y[:, 600:] += 500.0
    changed = create("adaptive_day", None, n_series=2).update(y, t)
    np.testing.assert_array_equal(whole[:, :600], changed[:, :600])
    det = create("adaptive_day", None, n_series=2)
    parts = [det.update(x[:, lo : lo + 77], t[lo : lo + 77]) for lo in range(0, 900, 77)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole)


def test_gaps_nan_constant_and_short_series() -> None:
    x = np.full((4, 700), 7.0)
    x[1] = daily(700)
    x[1, 200:260] = np.nan
    x[2, :] = np.nan
    x[2, ::29] = 3.0
    x[3, 650:] = 9.0
    s = create("adaptive_day", None, n_series=4).update(x, np.arange(700) * 300.0)
    assert np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()
    assert (s[0] == 0).all() and (s[2] == 0).all() and (s[1, 200:260] == 0).all()
    assert s[3, 650] > 0.9
    assert (create("adaptive_day", None, n_series=2).update(np.ones((2, 20))) == 0).all()
    one = create("adaptive_day", None, n_series=1).update(np.array([1.0]), np.array([0.0]))
    assert one.shape == (1,) and one[0] == 0.0


def test_save_and_load_continue_the_stream(tmp_path: Path) -> None:
    x = np.stack([daily(800), daily(800, seed=9)])
    t = np.arange(800) * 300.0
    det = create("adaptive_day", None, n_series=2)
    det.update(x[:, :500], t[:500])
    det.save(tmp_path / "d")
    again = Detector.load(tmp_path / "d")
    np.testing.assert_allclose(again.update(x[:, 500:], t[500:]), det.update(x[:, 500:], t[500:]))
