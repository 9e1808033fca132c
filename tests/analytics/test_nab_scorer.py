"""NAB scoring: null 0, perfect 100, and NAB's windowedGaussian reproduces its published scores."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from openmanager.analytics.evaluate.nab_corpus import (
    evaluate,
    load_corpus,
    load_profiles,
    perfect_scores,
)
from openmanager.analytics.evaluate.nab_scorer import CostMatrix, scaled_sigmoid, sweep_file

DATA = Path("/work/shared/datasets/nab-dev")


def test_scaled_sigmoid_matches_nab() -> None:
    y = scaled_sigmoid(np.array([-1.0, 0.0, 1.0, 3.0]))
    np.testing.assert_allclose(y[:3], [0.9866142981514305, 0.0, -0.9866142981514303])
    assert y[3] == -1.0


def test_sweep_rewards_early_detection() -> None:
    ts = np.arange(100).astype("datetime64[s]")
    sw = sweep_file(ts, np.zeros(100), [(ts[40], ts[59])], CostMatrix(1.0, 0.11, 1.0))
    inside = sw.sweep[40:60]
    assert inside[0] == pytest.approx(1.0, abs=0.02) and np.all(np.diff(inside) < 0)
    assert sw.sweep[20] == pytest.approx(-0.11) and (sw.window[:15] == -2).all()


@pytest.mark.skipif(not DATA.exists(), reason="NAB dev subset not present")
def test_null_and_perfect_detectors() -> None:
    corpus, profiles = load_corpus(DATA), load_profiles(DATA)
    perfect = {r.profile: r.normalised for r in evaluate(corpus, perfect_scores(corpus), profiles)}
    null = {
        r.profile: r.normalised
        for r in evaluate(corpus, [np.zeros(len(f.values)) for f in corpus], profiles)
    }
    assert all(v == pytest.approx(100.0) for v in perfect.values())
    assert all(v == pytest.approx(0.0) for v in null.values())


@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason="NAB dev subset not present")
def test_windowed_gaussian_reproduces_the_scoreboard() -> None:
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from nab_reference import windowed_gaussian

    corpus, profiles = load_corpus(DATA), load_profiles(DATA)
    ref = [np.array([float(f"{x:.12g}") for x in windowed_gaussian(f.values)]) for f in corpus]
    got = [r.normalised for r in evaluate(corpus, ref, profiles)]
    np.testing.assert_allclose(got, [50.87, 31.13, 59.02], atol=0.006)
