"""histogram_quantile and histogram_fraction on classic `le` buckets, with the expected values
of Prometheus's histograms.test (its classic-histogram half)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmanager.promql.functions import FUNCTIONS
from openmanager.promql.functions.histogram import almost_equal, parse_le
from openmanager.promql.types import EvalContext, StepVector
from openmanager.samples import Labels
from tests.promql.functions_helpers import call, labels, result, scalar, vec


def buckets(name: str, spec: dict[str, float], **extra: str) -> dict[Labels, list[float]]:
    return {labels(name, le=le, **extra): [count] for le, count in spec.items()}


# testhistogram3 at 50m: 10 increments of its `0+Nx10` series.
H3 = vec(
    buckets("h3_bucket", {"0": 0, "0.1": 50, ".2": 70, "1e0": 110, "+Inf": 110}, start="positive")
    | buckets(
        "h3_bucket", {"-.25": 0, "-.2": 10, "-0.1": 20, "0.3": 20, "+Inf": 20}, start="negative"
    )
)
H1 = vec(
    buckets("h_bucket", {"0.1": 50, ".2": 70, "1e0": 110, "+Inf": 120}, start="positive")
    | buckets("h_bucket", {"-.2": 10, "-0.1": 20, "0.3": 20, "+Inf": 30}, start="negative")
)
POS, NEG = labels("h3", start="positive"), labels("h3", start="negative")


def q(histo: StepVector, phi: float) -> dict[str, float]:
    got = result(call("histogram_quantile", phi, histo))
    return {dict(k)["start"]: v for k, v in got.items()}


@pytest.mark.parametrize(
    ("phi", "pos", "neg"),
    [(0, 0, -0.25), (0.25, 0.055, -0.225), (0.5, 0.125, -0.2), (0.75, 0.45, -0.15), (1, 1, -0.1)],
)
def test_quantiles_testhistogram3(phi: float, pos: float, neg: float) -> None:
    assert q(H3, phi) == pytest.approx({"positive": pos, "negative": neg})


def test_out_of_range_quantiles() -> None:
    assert q(H1, -0.1) == {"positive": -math.inf, "negative": -math.inf}
    assert q(H1, 1.01) == {"positive": math.inf, "negative": math.inf}
    assert all(math.isnan(v) for v in q(H1, math.nan).values())


def test_lowest_and_highest_bucket() -> None:
    assert q(H1, 0) == pytest.approx({"positive": 0, "negative": -0.2})
    assert q(H1, 1) == pytest.approx({"positive": 1, "negative": 0.3})


def test_output_drops_le_and_groups_by_other_labels() -> None:
    got = call("histogram_quantile", 0.5, H3)
    assert isinstance(got, StepVector)
    assert sorted(got.labels) == sorted(
        [labels("h3_bucket", start="positive"), labels("h3_bucket", start="negative")]
    )


def test_mixed_le_representations_are_coalesced() -> None:
    mixed = vec(
        buckets(
            "mixed_bucket",
            {"0.1": 10, "0.2": 10, "2e-1": 10, "2.0e-1": 10, "+Inf": 40},
            instance="ins1",
        )
        | buckets("mixed_bucket", {"+inf": 0, "+Inf": 0}, instance="ins2")
    )
    got = result(call("histogram_quantile", 0.75, mixed))
    by_inst = {dict(k)["instance"]: v for k, v in got.items()}
    # ins1: 0.1:10, 0.2:30 (three spellings of one bound), +Inf:40 -> 0.75*40=30 at 0.2.
    assert by_inst["ins1"] == pytest.approx(0.2)
    assert math.isnan(by_inst["ins2"])  # a single bucket after merging


def test_monotonicity_is_forced() -> None:
    bad = vec(buckets("nm_bucket", {"1": 10, "2": 8, "3": 15, "+Inf": 20}))
    # Envelope: 10 10 15 20; rank 0.5*20=10 lands in le=1.
    assert list(result(call("histogram_quantile", 0.5, bad)).values()) == pytest.approx([1.0])


def test_missing_inf_bucket_and_no_observations_give_nan() -> None:
    no_inf = vec(buckets("x_bucket", {"1": 1, "2": 2}))
    empty = vec(buckets("y_bucket", {"1": 0, "+Inf": 0}))
    for h in (no_inf, empty):
        (v,) = result(call("histogram_quantile", 0.5, h)).values()
        assert math.isnan(v)


def test_quantile_per_step_with_changing_bucket_sets() -> None:
    v = StepVector(
        [labels("r_bucket", le="0.1"), labels("r_bucket", le="0.2"), labels("r_bucket", le="+Inf")],
        np.array([[1.0, 1.0], [3.0, 3.0], [4.0, 4.0]]),
        np.array([[True, False], [True, True], [True, True]]),
    )
    got = call("histogram_quantile", 0.5, v, steps_ms=[0, 1])
    assert isinstance(got, StepVector)
    # step 0: rank 2 in (0.1, 0.2] -> 0.15; step 1 (no le=0.1): rank 2 in (0, 0.2] -> 0.1333
    assert list(got.values[0]) == pytest.approx([0.15, 0.2 * 2 / 3])


@pytest.mark.parametrize(
    ("lower", "upper", "expected"), [(0, 4, 2 / 3), (0, 6, 1), (0, 3.5, 0.5833333333333334)]
)
def test_fraction_testhistogram2(lower: float, upper: float, expected: float) -> None:
    h2 = vec(buckets("h2_bucket", {"0": 0, "2": 10, "4": 20, "6": 30, "+Inf": 30}))
    (v,) = result(call("histogram_fraction", float(lower), float(upper), h2)).values()
    assert v == pytest.approx(expected)


def test_fraction_testhistogram3() -> None:
    got = result(call("histogram_fraction", 0.0, 0.2, H3))
    by = {dict(k)["start"]: v for k, v in got.items()}
    assert by == pytest.approx({"positive": 0.6363636363636364, "negative": 0})


def test_fraction_edges() -> None:
    h2 = vec(buckets("h2_bucket", {"0": 0, "2": 10, "4": 20, "6": 30, "+Inf": 30}))
    assert list(result(call("histogram_fraction", 3.0, 1.0, h2)).values()) == [0]
    assert list(result(call("histogram_fraction", -math.inf, math.inf, h2)).values()) == [1]
    (nan,) = result(call("histogram_fraction", math.nan, 1.0, h2)).values()
    assert math.isnan(nan)


def test_le_parsing_and_almost_equal() -> None:
    assert parse_le("+Inf") == math.inf and parse_le("1e0") == 1 and parse_le(".2") == 0.2
    assert parse_le("1_0") is None and parse_le(" 1") is None and parse_le("abc") is None
    a = np.array([1.0, 0.0, np.nan, 1.0])
    b = np.array([1.0 + 1e-15, 1e-320, np.nan, 1.1])
    assert list(almost_equal(a, b, 1e-12)) == [True, True, True, False]


def test_native_only_functions_ignore_float_samples() -> None:
    for name in ("histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev"):
        assert result(call(name, H3)) == {}


def test_annotations() -> None:
    ctx = EvalContext(np.array([0], dtype=np.int64))
    FUNCTIONS["histogram_quantile"].impl(ctx, [scalar(1.01), H1])
    FUNCTIONS["histogram_quantile"].impl(ctx, [scalar(math.nan), H1])
    bad = vec(buckets("b_bucket", {"1": 1, "x": 2, "+Inf": 3}))
    FUNCTIONS["histogram_quantile"].impl(ctx, [scalar(0.5), bad])
    assert ctx.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got 1.01",
        "PromQL warning: quantile value should be between 0 and 1, got NaN",
        'PromQL warning: bucket label "le" is missing or has a malformed value of "x" '
        'for metric name "b_bucket"',
    ]
    assert ctx.infos == []
    nonmono = vec(buckets("nm_bucket", {"1": 10, "2": 8, "+Inf": 20}))
    FUNCTIONS["histogram_quantile"].impl(ctx, [scalar(0.5), nonmono])
    assert len(ctx.infos) == 1 and "fixed for monotonicity" in ctx.infos[0]


def test_stacked_histograms_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    les = ["0.1", "0.5", "1", "5", "+Inf"]
    labs, vals, pres = [], [], []
    for g in range(9):
        counts = np.sort(rng.integers(0, 50, (len(les), 4)), axis=0).astype(np.float64)
        for i, le in enumerate(les):
            labs.append(labels("lat_bucket", svc=str(g), le=le))
            vals.append(counts[i])
            p = np.ones(4, dtype=bool)
            if g % 3 == 0 and le == "0.5":
                p[1] = False  # this histogram lacks a bucket at one step
            pres.append(p)
    everything = StepVector(labs, np.array(vals), np.array(pres))
    together = call("histogram_quantile", 0.7, everything, steps_ms=[0, 1, 2, 3])
    assert isinstance(together, StepVector) and len(together) == 9
    for g in range(9):
        rows_g = [i for i, lab in enumerate(labs) if dict(lab)["svc"] == str(g)]
        alone = call(
            "histogram_quantile",
            0.7,
            StepVector([labs[i] for i in rows_g], np.array(vals)[rows_g], np.array(pres)[rows_g]),
            steps_ms=[0, 1, 2, 3],
        )
        assert isinstance(alone, StepVector)
        i = together.labels.index(alone.labels[0])
        np.testing.assert_array_equal(together.values[i], alone.values[0])
