"""The Grafana example: every panel query of the fleet dashboard returns data from the API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from openmanager.api.app import create_app
from openmanager.config import load_settings
from openmanager.services.platform import Platform

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grafana"
DASHBOARD = json.loads((EXAMPLE / "dashboards" / "fleet.json").read_text())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over a fresh store with 30 minutes of simulated fleet history."""
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path_factory.mktemp("grafana") / "data")},
            "simulator": {"backfill": "30m"},
        },
    )
    with TestClient(create_app(Platform(settings))) as c:
        yield c


def targets() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in DASHBOARD["panels"] for t in p["targets"]]


def grafana_expand(expr: str, variables: dict[str, str]) -> str:
    """What Grafana sends: variables substituted, `$__rate_interval` resolved."""
    for name, value in variables.items():
        expr = expr.replace(f"${name}", value)
    return expr.replace("$__rate_interval", "1m")


def test_provisioning_files_point_at_the_dashboard_datasource() -> None:
    ds = yaml.safe_load((EXAMPLE / "provisioning" / "datasources" / "openmanager.yaml").read_text())
    source = ds["datasources"][0]
    assert source["type"] == "prometheus"
    uids = {t["datasource"]["uid"] for p in DASHBOARD["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    provider = yaml.safe_load(
        (EXAMPLE / "provisioning" / "dashboards" / "openmanager.yaml").read_text()
    )
    assert provider["providers"][0]["type"] == "file"
    assert len(targets()) >= 10


@pytest.mark.parametrize("role", [".*", "database"])
def test_every_panel_query_returns_data(client: TestClient, role: str) -> None:
    end = time.time()
    missing: list[str] = []
    for title, expr in targets():
        q = grafana_expand(expr, {"environment": ".*", "role": role})
        r = client.post(
            "/api/v1/query_range",
            data={"query": q, "start": str(end - 1200), "end": str(end), "step": "60"},
        )
        assert r.status_code == 200, f"{title}: {q}: {r.text}"
        result: list[dict[str, Any]] = r.json()["data"]["result"]
        values = [v for s in result for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
        if not values:
            missing.append(f"{title}: {q}")
        for s in result:
            if "role" in s["metric"] and role != ".*":
                assert s["metric"]["role"] == role
    assert not missing, "panels without data:\n" + "\n".join(missing)


def test_template_variables_resolve(client: TestClient) -> None:
    for var in DASHBOARD["templating"]["list"]:
        name = var["name"]
        assert var["definition"] == f"label_values(node_load1, {name})"
        r = client.get(f"/api/v1/label/{name}/values", params={"match[]": "node_load1"})
        assert r.status_code == 200
        assert len(r.json()["data"]) >= 2, f"variable {name} has too few values"
