"""RemoteStorage against the real peers on loopback: VictoriaMetrics and Prometheus 2.x."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.errors import Unavailable
from openmanager.samples import STALE_NAN, SampleBatch, is_stale, make_labels
from openmanager.tsdb.matchers import Matcher, MatchType, eq
from openmanager.tsdb.remote import RemoteStorage
from tests.peers import run_prometheus, run_victoriametrics

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000
CPU_A = make_labels("cpu_seconds", {"host": "web-01", "job": "node", "mode": "user"})
CPU_B = make_labels("cpu_seconds", {"host": "db-01", "job": "node", "mode": "user"})
MEM = make_labels("mem_used_bytes", {"host": "web-01", "job": "node"})
STEP = 15_000
N = 240  # one hour at 15 s per series


def values(seed: int) -> np.ndarray:
    """Monitoring-like floats with at most 12 significant digits (what VM keeps exactly)."""
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(-1e6, 1e6, N), 3)


def workload() -> SampleBatch:
    ts = T0 + np.arange(N, dtype=np.int64) * STEP
    return SampleBatch.from_series(
        [(CPU_A, ts, values(1)), (CPU_B, ts, np.cumsum(np.full(N, 0.25))), (MEM, ts, values(3))]
    )


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[RemoteStorage]:
    with run_victoriametrics(tmp_path) as url:
        st = RemoteStorage(StorageSettings(backend="remote", remote_url=url))
        yield st
        st.close()


@pytest.fixture
def prom(tmp_path: Path) -> Iterator[RemoteStorage]:
    args = ["--web.enable-remote-write-receiver", "--web.enable-admin-api"]
    with run_prometheus(tmp_path, extra_args=args) as url:
        st = RemoteStorage(StorageSettings(backend="remote", remote_url=url))
        yield st
        st.close()


def load(st: RemoteStorage, batch: SampleBatch) -> None:
    assert st.append(batch).accepted == len(batch)
    st.flush()


def expected(
    labels: tuple[tuple[str, str], ...], start: int, end: int
) -> tuple[list[int], list[int]]:
    for lb, ts, vs in workload().per_series():
        if lb == labels:
            keep = (ts >= start) & (ts <= end)
            return ts[keep].tolist(), vs[keep].view(np.uint64).tolist()
    raise KeyError(labels)


@pytest.mark.parametrize("backend", ["vm", "prom"])
def test_select_is_bit_identical_over_an_inclusive_range(
    backend: str, request: pytest.FixtureRequest
) -> None:
    st: RemoteStorage = request.getfixturevalue(backend)
    assert st.flavor == ("victoriametrics" if backend == "vm" else "prometheus")
    load(st, workload())
    start, end = T0 + 10 * STEP, T0 + 50 * STEP  # both ends fall on samples
    got = st.select([eq("__name__", "cpu_seconds")], start, end)
    assert [s.labels for s in got] == sorted([CPU_A, CPU_B])
    for series in got:
        ts, bits = expected(series.labels, start, end)
        assert series.timestamps.tolist() == ts
        assert series.values.view(np.uint64).tolist() == bits
        assert len(ts) == 41
    # One millisecond inside either end drops exactly that end's sample.
    (narrow,) = st.select([eq("host", "web-01"), eq("mode", "user")], start + 1, end - 1)
    assert narrow.timestamps[0] == start + STEP and narrow.timestamps[-1] == end - STEP
    assert st.select([eq("__name__", "cpu_seconds")], end + 1, end + STEP - 1) == []


@pytest.mark.parametrize("backend", ["vm", "prom"])
def test_matchers_of_all_four_kinds(backend: str, request: pytest.FixtureRequest) -> None:
    st: RemoteStorage = request.getfixturevalue(backend)
    load(st, workload())
    end = T0 + N * STEP

    def names(*matchers: Matcher) -> list[tuple[tuple[str, str], ...]]:
        return [s.labels for s in st.select(list(matchers), T0, end)]

    assert names(eq("host", "web-01")) == sorted([CPU_A, MEM])
    assert names(eq("job", "node"), Matcher("host", MatchType.NEQ, "web-01")) == [CPU_B]
    assert names(Matcher("__name__", MatchType.RE, "cpu_.*|mem_used_bytes")) == sorted(
        [CPU_A, CPU_B, MEM]
    )
    assert names(eq("job", "node"), Matcher("mode", MatchType.NRE, "u.*")) == [MEM]
    assert names(Matcher("mode", MatchType.NRE, ".*")) == []


@pytest.mark.parametrize("backend", ["vm", "prom"])
def test_labels_series_and_stats(backend: str, request: pytest.FixtureRequest) -> None:
    st: RemoteStorage = request.getfixturevalue(backend)
    load(st, workload())
    end = T0 + N * STEP
    assert st.label_names() == ["__name__", "host", "job", "mode"]
    assert st.label_names([eq("__name__", "mem_used_bytes")], T0, end) == [
        "__name__",
        "host",
        "job",
    ]
    assert st.label_values("host") == ["db-01", "web-01"]
    assert st.label_values("__name__", [eq("host", "db-01")], T0, end) == ["cpu_seconds"]
    assert st.series([eq("job", "node")], T0, end) == sorted([CPU_A, CPU_B, MEM])
    assert st.stats().series == 3


def test_victoriametrics_keeps_stale_markers(vm: RemoteStorage) -> None:
    labels = make_labels("up", {"job": "gone"})
    load(vm, SampleBatch.from_series([(labels, [T0, T0 + STEP], [1.0, STALE_NAN])]))
    (series,) = vm.select([eq("job", "gone")], T0, T0 + STEP)
    assert series.values[0] == 1.0 and is_stale(series.values)[1]


def test_prometheus_keeps_any_float_bit_exactly(prom: RemoteStorage) -> None:
    labels = make_labels("odd_values", {})
    vs = [1 / 3, 1e-300, -2.5e300, float("inf"), float("-inf"), 5e-324, 0.1 + 0.2]
    ts = [T0 + i for i in range(len(vs))]
    stale_at = T0 + len(vs)  # Prometheus stores the stale marker but range selectors skip it
    load(prom, SampleBatch.from_series([(labels, [*ts, stale_at], [*vs, STALE_NAN])]))
    (series,) = prom.select([eq("__name__", "odd_values")], T0, stale_at)
    assert series.values.tolist() == vs
    assert series.timestamps.tolist() == ts


def test_large_batches_are_split(vm: RemoteStorage) -> None:
    vm.max_samples_per_request = 1000
    labels = [make_labels("load", {"host": f"h{i}"}) for i in range(20)]
    ts = T0 + np.arange(500, dtype=np.int64) * 1000
    items = [(lb, ts, np.arange(500, dtype=np.float64) + i) for i, lb in enumerate(labels)]
    load(vm, SampleBatch.from_series(items))
    got = vm.select([eq("__name__", "load")], T0, T0 + 500_000)
    assert len(got) == 20 and sum(len(s.timestamps) for s in got) == 10_000


def test_victoriametrics_deletes_whole_series_only(vm: RemoteStorage) -> None:
    load(vm, workload())
    end = T0 + N * STEP
    with pytest.raises(Unavailable, match="whole series only"):
        vm.delete_series([eq("host", "db-01")], T0, T0 + STEP)
    assert vm.delete_series([eq("host", "db-01")], 0, end) == 1
    vm.flush()
    assert [s.labels for s in vm.select([eq("job", "node")], T0, end)] == sorted([CPU_A, MEM])


def test_prometheus_deletes_a_time_range(prom: RemoteStorage) -> None:
    load(prom, workload())
    end = T0 + N * STEP
    assert prom.delete_series([eq("host", "db-01")], T0, T0 + 99 * STEP) == 1
    (left,) = prom.select([eq("host", "db-01")], T0, end)
    assert left.timestamps[0] == T0 + 100 * STEP and len(left.timestamps) == N - 100
