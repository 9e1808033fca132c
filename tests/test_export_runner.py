"""The export runner: cursor, batching, retries and dead letters, through a recording exporter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from openmanager.config.exporters import ExporterSettings
from openmanager.export.base import ExportFailed, ExportRejected, Sample
from openmanager.export.registry import EXPORTERS, create_exporter
from openmanager.export.runner import ExportRunner
from tests.export_data import EXPECTED_ALL, POINTS, T0, filled_storage


class Recording:
    """An exporter that keeps what it is sent and fails the first `failures` calls."""

    kind = "recording"

    def __init__(self, failures: int = 0, error: type[Exception] = ExportFailed) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.batches: list[list[Sample]] = []

    def send(self, batch: Sequence[Sample]) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("target down")
        self.batches.append(list(batch))
        return len(batch)

    def close(self) -> None:
        pass


def settings(**kw: object) -> ExporterSettings:
    base: dict[str, object] = {"name": "rec", "kind": "influxdb", "url": "http://127.0.0.1:1"}
    return ExporterSettings.model_validate({**base, "retry_backoff": "1ms", **kw})


def test_run_exports_new_samples_once_in_batches(tmp_path: Path) -> None:
    st = filled_storage(tmp_path / "data")
    now = [T0 / 1000 - 1]
    exporter = Recording()
    runner = ExportRunner(settings(batch_size=7), st, exporter, clock=lambda: now[0])
    assert runner.run() == 0  # nothing newer than the cursor yet
    now[0] = T0 / 1000 + 3600
    assert runner.run() == EXPECTED_ALL
    assert all(len(b) <= 7 for b in exporter.batches)
    assert runner.run() == 0  # the cursor moved on: nothing is sent twice
    samples = [s for b in exporter.batches for s in b]
    assert len({(s.name, s.labels, s.timestamp_ms) for s in samples}) == EXPECTED_ALL
    assert [s.timestamp_ms for s in samples] == sorted(s.timestamp_ms for s in samples)
    kinds = {s.name: s.type for s in samples}
    assert kinds == {
        "node_cpu_ratio": "gauge",
        "node_requests_total": "counter",
        "node_load1": "unknown",
    }
    assert runner.status.sent_samples == EXPECTED_ALL
    st.close()


def test_match_selects_series_and_delay_holds_back_recent_samples(tmp_path: Path) -> None:
    st = filled_storage(tmp_path / "data")
    now = [T0 / 1000 - 1]
    exporter = Recording()
    cfg = settings(match=['node_cpu_ratio{server="web-01"}'], delay="1m")
    runner = ExportRunner(cfg, st, exporter, clock=lambda: now[0])
    now[0] = (T0 + (POINTS - 1) * 15_000) / 1000  # the last sample is "now": 4 are within 1m
    assert runner.run() == POINTS - 4
    assert {s.labels for b in exporter.batches for s in b} == {
        (("mode", "a=b"), ("server", "web-01"))
    }
    now[0] += 120
    assert runner.run() == 4
    st.close()


def test_retries_then_succeeds(tmp_path: Path) -> None:
    st = filled_storage(tmp_path / "data")
    exporter = Recording(failures=2)
    runner = ExportRunner(settings(retry_attempts=3), st, exporter, clock=lambda: T0 / 1000 + 3600)
    assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_ALL
    assert runner.status.retries == 2 and runner.status.dead_letter_batches == 0
    st.close()


@pytest.mark.parametrize(("error", "calls"), [(ExportFailed, 3), (ExportRejected, 1)])
def test_dead_letter_after_retries_or_rejection(
    tmp_path: Path, error: type[Exception], calls: int
) -> None:
    st = filled_storage(tmp_path / "data")
    exporter = Recording(failures=100, error=error)
    cfg = settings(name=f"dl-{error.__name__}", retry_attempts=3, batch_size=1000)
    runner = ExportRunner(cfg, st, exporter, clock=lambda: T0 / 1000 + 3600)
    before = REGISTRY.get_sample_value(
        "openmanager_export_samples_total", {"exporter": cfg.name, "outcome": "dead_letter"}
    )
    assert runner.export_range(T0, T0 + 3_600_000) == 0
    assert exporter.calls == calls  # a rejection is not retried
    st_ = runner.status
    assert st_.dead_letter_batches == 1 and st_.dead_letter_samples == EXPECTED_ALL
    assert st_.last_error == "target down"
    letter = st_.to_dict()["dead_letters"][0]
    assert letter["first_ms"] == T0 and letter["samples"] == EXPECTED_ALL
    after = REGISTRY.get_sample_value(
        "openmanager_export_samples_total", {"exporter": cfg.name, "outcome": "dead_letter"}
    )
    assert (after or 0) - (before or 0) == EXPECTED_ALL
    st.close()


def test_every_registered_kind_builds_and_bad_settings_are_refused() -> None:
    assert set(EXPORTERS) == {"influxdb", "datadog", "otlp", "clickhouse"}
    for kind in ("influxdb", "datadog", "otlp"):
        exporter = create_exporter(settings(kind=kind))
        assert exporter.kind == kind
        exporter.close()
    with pytest.raises(ValueError, match="must start with"):
        settings(url="127.0.0.1:8086")
    with pytest.raises(ValueError, match="only for kind clickhouse"):
        settings(url="chdb:///tmp/x")
    with pytest.raises(ValueError, match="not a plain identifier"):
        settings(kind="clickhouse", table="x; DROP TABLE y")
    with pytest.raises(ValueError, match="Input should be"):
        settings(kind="graphite")


def test_readme_documents_every_exporter_field() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Exporters", 1)[1].split("\n## ", 1)[0]
    for name in ExporterSettings.model_fields:
        assert f"| `{name}` |" in section, name


def test_exporter_names_must_be_unique() -> None:
    from openmanager.config import load_settings
    from openmanager.errors import ConfigError

    target = {"name": "a", "kind": "otlp", "url": "http://127.0.0.1:4318"}
    assert len(load_settings(None, {"exporters": [target]}).exporters) == 1
    with pytest.raises(ConfigError, match="repeated: a"):
        load_settings(None, {"exporters": [target, {**target, "kind": "datadog"}]})
