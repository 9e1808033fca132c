"""InfluxDB exporter against a real InfluxDB (Debian's `influxdb`): points read back with InfluxQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openmanager.config.exporters import ExporterSettings
from openmanager.export.influxdb import InfluxDBExporter, encode
from openmanager.export.runner import ExportRunner
from tests.export_data import EXPECTED_ALL, EXPECTED_FINITE, POINTS, SERVERS, T0, filled_storage
from tests.peers import run_influxdb


def influxql(url: str, query: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{url}/query", params={"db": "om_test", "q": query, "epoch": "ms"}, timeout=10
    )
    response.raise_for_status()
    return list(response.json()["results"][0].get("series", []))


def test_encode_escapes_and_skips_nan() -> None:
    from openmanager.export.base import Sample

    body, count = encode(
        [
            Sample("m x", (("a", "b c,d=e"), ("empty", "")), 1, 0.5),
            Sample("m", (), 2, float("nan")),
        ]
    )
    assert count == 1
    assert body == b"m\\ x,a=b\\ c\\,d\\=e value=0.5 1\n"


@pytest.mark.integration
def test_points_written_are_read_back_with_influxql(tmp_path: Path) -> None:
    st = filled_storage(tmp_path / "data")
    with run_influxdb(tmp_path) as url:
        cfg = ExporterSettings(
            name="influx", kind="influxdb", url=url, database="om_test", batch_size=25
        )
        runner = ExportRunner(cfg, st, InfluxDBExporter(cfg), clock=lambda: T0 / 1000 + 3600)
        assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_FINITE
        assert runner.status.skipped_samples == EXPECTED_ALL - EXPECTED_FINITE  # the NaN
        assert runner.status.dead_letter_batches == 0

        rows = influxql(url, 'SELECT "value", "mode" FROM "node_cpu_ratio" GROUP BY "server"')
        by_server = {r["tags"]["server"]: r["values"] for r in rows}  # type: ignore[index]
        assert set(by_server) == set(SERVERS)
        web = by_server["web-01"]
        assert len(web) == POINTS
        assert web[0] == [T0, 0.0, "a=b"]
        assert web[-1][0] == T0 + (POINTS - 1) * 15_000
        assert web[-1][1] == pytest.approx((POINTS - 1) / 100)

        total = influxql(url, 'SELECT sum("value") FROM "node_requests_total"')
        assert total[0]["values"][0][1] == sum(i * 10 for i in range(POINTS))  # type: ignore[index]
        counts = influxql(url, 'SELECT count("value") FROM /node_.*/')
        assert sum(s["values"][0][1] for s in counts) == EXPECTED_FINITE  # type: ignore[index,misc]
        runner.close()
    st.close()


@pytest.mark.integration
def test_unreachable_influxdb_is_dead_lettered(tmp_path: Path) -> None:
    from tests.helpers import free_port

    st = filled_storage(tmp_path / "data")
    cfg = ExporterSettings(
        name="influx-down", kind="influxdb", url=f"http://127.0.0.1:{free_port()}",
        retry_attempts=2, retry_backoff="1ms", batch_size=1000,
    )  # fmt: skip
    runner = ExportRunner(cfg, st, InfluxDBExporter(cfg), clock=lambda: T0 / 1000 + 3600)
    assert runner.export_range(T0, T0 + 3_600_000) == 0
    assert runner.status.retries == 1
    assert runner.status.dead_letter_samples == EXPECTED_ALL
    assert "ConnectError" in (runner.status.last_error or "")
    runner.close()
    st.close()
