"""The adaptive detector: novelty once per episode, no look-ahead, safe on gaps/NaN/constant/short."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.analytics.detect.adaptive import Adaptive, AdaptiveConfig
from openmanager.analytics.detect.base import Detector
from openmanager.analytics.detect.registry import create, names
from openmanager.errors import InvalidInput


def noisy(n_series: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(50.0, 2.0, (n_series, n))


def square_wave(n: int, period: int = 96, seed: int = 3) -> np.ndarray:
    """A daily-like square wave (20 low, 80 high) with a little noise."""
    phase = (np.arange(n) % period) >= period // 2
    return 20.0 + 60.0 * phase + np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_registered_by_name_and_config_round_trips() -> None:
    assert "adaptive" in names()
    det = create("adaptive", {"scales": [1, 5], "quiet": 0.9}, n_series=3)
    assert isinstance(det, Adaptive) and det.config.scales == (1, 5)
    assert AdaptiveConfig.from_dict(det.config.to_dict()) == det.config
    for bad in ({"scales": []}, {"quiet": 1.0}, {"shape_step": 0}, {"z_weight": -1.0}):
        with pytest.raises(InvalidInput):
            create("adaptive", bad)


def test_level_shift_is_reported_once_at_its_start() -> None:
    x = noisy(2, 1500)
    x[1, 1000:] += 30.0  # a lasting new regime on series 1
    s = create("adaptive", None, n_series=2).update(x, np.arange(1500) * 60.0)
    assert s[1, 1000:1003].max() > 0.5
    assert s[1, 1010:].max() < 0.5 * s[1, 1000:1003].max()  # not reported again while it stays
    assert s[0].max() < s[1, 1000:1003].max()


def test_new_shape_inside_the_usual_range_stands_out() -> None:
    x = np.stack([square_wave(2400), square_wave(2400)])
    x[1, 2016:2064] = 45.0 + np.random.default_rng(4).normal(0.0, 1.0, 48)  # a half-height day
    s = create("adaptive", None, n_series=2).update(x, np.arange(2400) * 300.0)
    assert s[1, 2016:2064].max() > 2.0 * s[1, 300:2000].max()
    assert s[1, 2016:2064].max() > 2.0 * s[0, 300:].max()


def test_quiet_data_raises_few_alarms() -> None:
    x = noisy(4, 4000, seed=5)
    s = create("adaptive", None, n_series=4).update(x, np.arange(4000) * 300.0)
    assert (s >= 0.5).sum() <= 4


def test_no_look_ahead_and_chunking_does_not_matter() -> None:
    x = np.stack([square_wave(900), noisy(1, 900)[0]])
    t = np.arange(900) * 300.0
    whole = create("adaptive", None, n_series=2).update(x, t)
    y = x.copy()
    y[:, 600:] += 500.0  # the future changes
    changed = create("adaptive", None, n_series=2).update(y, t)
    np.testing.assert_array_equal(whole[:, :600], changed[:, :600])
    det = create("adaptive", None, n_series=2)
    parts = [det.update(x[:, lo : lo + 77], t[lo : lo + 77]) for lo in range(0, 900, 77)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole)


def test_gaps_nan_constant_and_short_series() -> None:
    x = np.full((4, 600), 7.0)  # series 0: constant
    x[1] = square_wave(600)
    x[1, 200:260] = np.nan  # a gap
    x[2, :] = np.nan
    x[2, ::29] = 3.0  # sparse and constant
    x[3, 550:] = 9.0  # constant, then a step
    s = create("adaptive", None, n_series=4).update(x, np.arange(600) * 60.0)
    assert np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()
    assert (s[0] == 0).all() and (s[2] == 0).all()
    assert (s[1, 200:260] == 0).all()
    assert s[3, 550] > 0.9 and (s[3, 551:] < s[3, 550]).all()
    short = create("adaptive", None, n_series=2).update(noisy(2, 20))
    assert (short == 0).all()  # still learning (warm-up)
    one = create("adaptive", None, n_series=1).update(np.array([1.0]), np.array([0.0]))
    assert one.shape == (1,) and one[0] == 0.0


def test_save_and_load_continue_the_stream(tmp_path: Path) -> None:
    x = np.stack([square_wave(700), noisy(1, 700)[0]])
    t = np.arange(700) * 60.0
    det = create("adaptive", None, n_series=2)
    det.update(x[:, :400], t[:400])
    det.save(tmp_path / "d")
    again = Detector.load(tmp_path / "d")
    np.testing.assert_allclose(again.update(x[:, 400:], t[400:]), det.update(x[:, 400:], t[400:]))
