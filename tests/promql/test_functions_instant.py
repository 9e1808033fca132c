"""Instant-vector functions: math, clamp/round, time fields, labels, sort, absent, scalar and
vector, checked against Prometheus's functions.test and trig_functions.test values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.functions.misc import natural_less
from openmanager.promql.types import StepScalar, StepVector
from openmanager.tsdb.matchers import Matcher, MatchType
from tests.promql.functions_helpers import call, labels, result, rows, vec

CLAMP = vec(
    {labels(src="clamp-a"): [-50], labels(src="clamp-b"): [0], labels(src="clamp-c"): [100]}
)


def _vals(v: object) -> list[float]:
    assert isinstance(v, StepVector)
    return [float(x) for x in v.values[:, 0]]


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("clamp_max", (75.0,), [-50, 0, 75]),
        ("clamp_min", (-25.0,), [-25, 0, 100]),
        ("clamp", (-25.0, 75.0), [-25, 0, 75]),
    ],
)
def test_clamp(name: str, args: tuple[float, ...], expected: list[float]) -> None:
    assert _vals(call(name, CLAMP, *args)) == expected


def test_clamp_nan_bounds_and_inverted_bounds() -> None:
    assert all(math.isnan(v) for v in _vals(call("clamp", CLAMP, 0.0, math.nan)))
    assert all(math.isnan(v) for v in _vals(call("clamp", CLAMP, math.nan, 0.0)))
    assert result(call("clamp", CLAMP, 5.0, -5.0)) == {}


def test_sgn_and_round() -> None:
    v = vec(
        {labels(s=str(i)): [x] for i, x in enumerate([-math.inf, math.inf, math.nan, -50, 0, 100])}
    )
    got = _vals(call("sgn", v))
    assert got[:2] == [-1, 1] and math.isnan(got[2]) and got[3:] == [-1, 0, 1]
    r = vec({labels(a="1"): [2.5], labels(a="2"): [-2.5], labels(a="3"): [1.26]})
    assert _vals(call("round", r)) == [3, -2, 1]
    assert _vals(call("round", r, 0.1)) == pytest.approx([2.5, -2.5, 1.3])


def test_math_functions() -> None:
    v = vec({labels(a="x"): [0.5]})
    expected = {
        "abs": 0.5, "ceil": 1, "floor": 0, "exp": math.exp(0.5), "sqrt": math.sqrt(0.5),
        "ln": math.log(0.5), "log2": -1, "log10": math.log10(0.5), "sin": math.sin(0.5),
        "cos": math.cos(0.5), "tan": math.tan(0.5), "asin": math.asin(0.5),
        "acos": math.acos(0.5), "atan": math.atan(0.5), "sinh": math.sinh(0.5),
        "cosh": math.cosh(0.5), "tanh": math.tanh(0.5), "asinh": math.asinh(0.5),
        "atanh": math.atanh(0.5), "deg": 0.5 * 180 / math.pi, "rad": 0.5 * math.pi / 180,
    }  # fmt: skip
    for name, want in expected.items():
        assert _vals(call(name, v)) == pytest.approx([want]), name
    assert math.isnan(_vals(call("acosh", v))[0])
    assert math.isnan(_vals(call("ln", vec({(): [-1.0]})))[0])
    pi = call("pi")
    assert isinstance(pi, StepScalar) and pi.values[0] == math.pi


@pytest.mark.parametrize(
    ("name", "arg", "expected"),
    [
        ("year", None, 1970), ("year", 1136239445, 2006), ("month", None, 1), ("month", 1136239445, 1),
        ("day_of_month", None, 1), ("day_of_month", 1136239445, 2), ("day_of_year", None, 1),
        ("day_of_year", 1136239445, 2), ("day_of_week", None, 4), ("day_of_week", 1136239445, 1),
        ("hour", None, 0), ("hour", 1136239445, 22), ("minute", None, 0), ("minute", 1136239445, 4),
        ("year", 1230767999, 2008), ("year", 1230768000, 2009), ("month", 1456790399, 2),
        ("day_of_month", 1456790399, 29), ("month", 1456790400, 3), ("day_of_month", 1456790400, 1),
        ("day_of_year", 1483191420, 366), ("day_of_year", 1672493820, 365),
        ("days_in_month", 1454284800, 29), ("days_in_month", 1485907200, 28),
        ("year", -1, 1969), ("hour", -1, 23), ("day_of_week", -86400, 3),
    ],
)  # fmt: skip
def test_date_functions(name: str, arg: int | None, expected: float) -> None:
    got = call(name) if arg is None else call(name, vec({(): [float(arg)]}))
    assert result(got) == {(): expected}


def test_time_and_timestamp() -> None:
    t = call("time", steps_ms=[1, 3_000_000])
    assert isinstance(t, StepScalar) and list(t.values) == [0.001, 3000]
    v = vec({labels("metric"): [1.0, 1.0]})
    v.sample_ts = np.array([[0, 10_000]])
    assert rows(call("timestamp", v, steps_ms=[5_000, 15_000])) == {labels("metric"): [0, 10]}
    v.sample_ts = None
    assert rows(call("timestamp", v, steps_ms=[5_000, 15_000])) == {labels("metric"): [5, 15]}


TM = vec(
    {
        labels("testmetric", src="source-value-10", dst="original-destination-value"): [0],
        labels("testmetric", src="source-value-20", dst="original-destination-value"): [1],
    }
)


@pytest.mark.parametrize(
    ("args", "dst"),
    [
        (("dst", "destination-value-$1", "src", "source-value-(.*)"), ["destination-value-10", "destination-value-20"]),
        (("dst", "destination-value-$1", "src", "value-(.*)"), ["original-destination-value"] * 2),
        (("dst", "$1-value-$2", "src", "(.*)-value-(.*)"), ["source-value-10", "source-value-20"]),
        (("dst", "value-$1", "nonexistent-src", "source-value-(.*)"), ["original-destination-value"] * 2),
        (("dst", "value-$1", "nonexistent-src", "(.*)"), ["value-"] * 2),
        (("dst", "value-$1", "src", "non-matching-regex"), ["original-destination-value"] * 2),
        (("dst", "", "dst", ".*"), ["", ""]),
        (("dst", "${1}x$1x$$1", "src", "source-value-(.*)"), ["10x$1", "20x$1"]),
        (("dst", "$name-$2", "src", "(?P<name>source)-value-(.*)"), ["source-10", "source-20"]),
    ],
)  # fmt: skip
def test_label_replace(args: tuple[str, ...], dst: list[str]) -> None:
    got = call("label_replace", TM, *args)
    assert isinstance(got, StepVector)
    assert [dict(lab).get("dst", "") for lab in got.labels] == dst


def test_label_replace_errors() -> None:
    with pytest.raises(QueryExecutionError, match="invalid regular expression"):
        call("label_replace", TM, "dst", "value-$1", "src", "(.*")
    with pytest.raises(QueryExecutionError, match="invalid destination label name"):
        call("label_replace", TM, "", "", "src", "(.*)")
    with pytest.raises(QueryExecutionError, match="same labelset"):
        call("label_replace", TM, "src", "", "", "")


def test_label_replace_merges_series_without_overlap() -> None:
    v = StepVector(
        [labels("m", a="1"), labels("m", a="2")],
        np.array([[1.0, 0.0], [0.0, 2.0]]),
        np.array([[True, False], [False, True]]),
    )
    assert rows(call("label_replace", v, "a", "x", "a", ".*", steps_ms=[0, 1])) == {
        labels("m", a="x"): [1.0, 2.0]
    }


def test_label_replace_of_name_clears_the_drop_mark() -> None:
    v = vec({labels("rate_in", env="1"): [0.2]})
    v.drop_name = np.array([True])
    out = call("label_replace", v, "__name__", "rate_$1", "__name__", "(.+)")
    assert isinstance(out, StepVector) and out.labels == [labels("rate_rate_in", env="1")]
    assert out.drop_name is not None and not out.drop_name[0]
    kept = call("label_replace", v, "my_name", "$1", "__name__", "(.+)")
    assert isinstance(kept, StepVector) and kept.drop_name is not None and kept.drop_name[0]


def test_label_join() -> None:
    v = vec({labels("t", src="a", src1="b", src2="c", dst="orig"): [0]})
    out = call("label_join", v, "dst", "-", "src", "src3", "src1")
    assert isinstance(out, StepVector) and dict(out.labels[0])["dst"] == "a--b"
    out = call("label_join", v, "dst", ", ")
    assert isinstance(out, StepVector) and "dst" not in dict(out.labels[0])
    dup = vec({labels("dup", label="a", this="a"): [1], labels("dup", label="b", this="a"): [1]})
    with pytest.raises(QueryExecutionError, match="same labelset"):
        call("label_join", dup, "label", "", "this")


def test_sort_and_sort_desc_put_nan_last() -> None:
    v = vec(
        {
            labels(i="a"): [300],
            labels(i="b"): [math.nan],
            labels(i="c"): [100],
            labels(i="d"): [200],
        }
    )
    asc, desc = call("sort", v), call("sort_desc", v)
    assert isinstance(asc, StepVector) and isinstance(desc, StepVector)
    assert [dict(x)["i"] for x in asc.labels] == ["c", "d", "a", "b"]
    assert [dict(x)["i"] for x in desc.labels] == ["a", "d", "c", "b"]


def test_sort_by_label_natural_order() -> None:
    cpus = ["0", "1", "2", "3", "10", "11", "12", "20", "21", "100"]
    v = vec({labels("cpu_time_total", cpu=c, job="cpu"): [100] for c in reversed(cpus)})
    out = call("sort_by_label", v, "cpu")
    assert isinstance(out, StepVector) and [dict(x)["cpu"] for x in out.labels] == cpus
    releases = ["1.111.3", "1.2.3", "1.11.3"]
    v = vec({labels("uname", release=r): [1] for r in releases})
    out = call("sort_by_label", v, "release")
    assert isinstance(out, StepVector)
    assert [dict(x)["release"] for x in out.labels] == ["1.2.3", "1.11.3", "1.111.3"]
    out = call("sort_by_label_desc", v, "release")
    assert isinstance(out, StepVector)
    assert [dict(x)["release"] for x in out.labels] == ["1.111.3", "1.11.3", "1.2.3"]
    assert natural_less("4m5", "4m600") and not natural_less("4m1000", "4m600")


def test_absent_labels_follow_prometheus_rules() -> None:
    eq, re_ = MatchType.EQ, MatchType.RE
    empty = StepVector.empty(1)
    cases = [
        ((Matcher("__name__", eq, "nonexistent"),), ()),
        ((Matcher("job", eq, "testjob"), Matcher("instance", eq, "testinstance"), Matcher("method", re_, ".x")),
         labels(instance="testinstance", job="testjob")),
        ((Matcher("job", eq, "testjob"), Matcher("job", eq, "testjob2"), Matcher("foo", eq, "bar")), labels(foo="bar")),
        ((Matcher("job", eq, "testjob"), Matcher("job", re_, "testjob2"), Matcher("foo", eq, "bar")), labels(foo="bar")),
    ]  # fmt: skip
    for matchers, want in cases:
        assert result(call("absent", empty, matchers=(matchers,))) == {want: 1}
    assert result(call("absent", vec({labels("x"): [1.0]}))) == {}
    assert result(call("absent", empty)) == {(): 1}


def test_scalar_and_vector() -> None:
    v = StepVector(
        [labels(a="1"), labels(a="2")],
        np.array([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]]),
        np.array([[True, True, False], [False, True, False]]),
    )
    s = call("scalar", v, steps_ms=[0, 1, 2])
    assert isinstance(s, StepScalar)
    assert s.values[0] == 1 and math.isnan(s.values[1]) and math.isnan(s.values[2])
    assert rows(call("vector", 3.0, steps_ms=[0, 1])) == {(): [3.0, 3.0]}
