"""ClickHouse exporter for real: the chdb embedded engine, and the HTTP interface over the same engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from openmanager.config.exporters import ExporterSettings
from openmanager.export.clickhouse import ClickHouseExporter
from openmanager.export.runner import ExportRunner
from tests.export_data import EXPECTED_ALL, EXPECTED_FINITE, POINTS, SERVERS, T0, filled_storage
from tests.export_http import Request, receiver
from tests.helpers import require


@pytest.fixture(scope="module")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the module: chdb serves a single path per process."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def chdb_session(chdb_dir: Path) -> Iterator[Any]:
    try:
        from chdb import session
    except ImportError:
        require(False, "chdb is not installed (pip install chdb)")
    s = session.Session(str(chdb_dir))
    yield s
    s.close()


def rows(s: Any, sql: str) -> list[dict[str, Any]]:
    text = s.query(sql, "JSONEachRow").bytes().decode()
    return [json.loads(line) for line in text.splitlines() if line]


def check_table(s: Any, db: str) -> None:
    [got] = rows(s, f"SELECT count() AS n, countDistinct(metric) AS m FROM {db}.samples")
    assert (int(got["n"]), int(got["m"])) == (EXPECTED_FINITE, 3)  # 64-bit ints may come quoted
    cpu = rows(
        s,
        "SELECT labels['server'] AS server, toUnixTimestamp64Milli(timestamp) AS t, value "
        f"FROM {db}.samples WHERE metric = 'node_cpu_ratio' ORDER BY server, t",
    )
    assert {r["server"] for r in cpu} == set(SERVERS) and len(cpu) == 2 * POINTS
    web = [r for r in cpu if r["server"] == "web-01"]
    assert int(web[0]["t"]) == T0 and web[0]["value"] == 0.0
    assert int(web[-1]["t"]) == T0 + (POINTS - 1) * 15_000
    total = rows(
        s, f"SELECT sum(value) AS v FROM {db}.samples WHERE metric = 'node_requests_total'"
    )
    assert total[0]["v"] == sum(i * 10 for i in range(POINTS))


@pytest.mark.integration
def test_chdb_table_holds_every_sample(tmp_path: Path, chdb_dir: Path) -> None:
    st = filled_storage(tmp_path / "data")
    cfg = ExporterSettings(
        name="ch", kind="clickhouse", url=f"chdb://{chdb_dir}", database="om_chdb", batch_size=30
    )
    try:
        exporter = ClickHouseExporter(cfg)
    except Exception as exc:  # chdb missing: Unavailable
        require(False, str(exc))
        raise
    runner = ExportRunner(cfg, st, exporter, clock=lambda: T0 / 1000 + 3600)
    try:
        assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_FINITE
        assert runner.status.skipped_samples == EXPECTED_ALL - EXPECTED_FINITE
        check_table(exporter.transport.session, "om_chdb")  # type: ignore[attr-defined]
    finally:
        runner.close()
        st.close()


@pytest.mark.integration
def test_http_interface_inserts_rows(tmp_path: Path, chdb_session: Any) -> None:
    """ClickHouse's HTTP protocol (statement in `query` or the body, data in the body), served by chdb."""

    def clickhouse_http(req: Request) -> tuple[int, bytes]:
        params = parse_qs(urlparse(req.path).query)
        sql = (
            params["query"][0] + " " + req.body.decode() if "query" in params else req.body.decode()
        )
        try:
            chdb_session.query(sql)
        except Exception as exc:
            return 400, f"Code: 62. DB::Exception: {exc}".encode()
        return 200, b""

    st = filled_storage(tmp_path / "data")
    with receiver(clickhouse_http) as (url, received):
        cfg = ExporterSettings(
            name="ch-http", kind="clickhouse", url=url, database="om_http", batch_size=1000
        )
        runner = ExportRunner(cfg, st, ClickHouseExporter(cfg), clock=lambda: T0 / 1000 + 3600)
        assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_FINITE
    assert [r.path.split("?")[0] for r in received] == ["/"] * 3  # database, table, one insert
    check_table(chdb_session, "om_http")
    runner.close()
    st.close()
