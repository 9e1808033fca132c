"""The model registry on SQLite and the real PostgreSQL over a real embedded store: a daily-season
version beats a seasonless one and is promoted, an equal retrain is rejected, rollback restores the
version that served before, and bad requests get specific errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from openmanager.analytics.forecast import Prepared
from openmanager.analytics.models import ForecasterSpec, train_forecaster
from openmanager.config.settings import StorageSettings
from openmanager.errors import Conflict, InvalidInput, NotFound
from openmanager.meta import MetaDB
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.models import ModelService
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage

STEP = 300_000
DAY = 86_400_000
T0 = 1_704_067_200_000
N = 8 * 288
END = T0 + (N - 1) * STEP
HOUR = 3_600_000


def write_demand(storage: Storage) -> None:
    """Eight days of a strongly daily `demand` per role (web peaks at 14:00), and a second role."""
    rng = np.random.default_rng(3)
    t = T0 + STEP * np.arange(N, dtype=np.int64)
    hour = (t - T0) / HOUR % 24
    web = 10 + 8 * np.sin((hour - 8) / 24 * 2 * np.pi) + rng.normal(0, 0.3, N)
    db = np.full(N, 3.0) + rng.normal(0, 0.1, N)
    series = [make_labels("demand", {"role": "web"}), make_labels("demand", {"role": "db"})]
    refs = np.repeat(np.arange(2), N)
    storage.append(SampleBatch(series, refs, np.tile(t, 2), np.concatenate([web, db])))


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    write_demand(st)
    yield st
    st.close()


def test_validation_holds_out_the_last_horizon() -> None:
    y = np.sin(np.arange(600) / 288 * 2 * np.pi) + 5
    m = train_forecaster(Prepared(T0, STEP, y), ForecasterSpec("x", 6 * HOUR))
    assert m.metrics["holdout_points"] == 72
    assert m.params["training_window"]["end"] == (T0 + 599 * STEP) / 1000
    with pytest.raises(InvalidInput, match="longer than the horizon"):
        train_forecaster(Prepared(T0, STEP, y[:50]), ForecasterSpec("x", 6 * HOUR))


def test_train_promote_reject_and_rollback(meta: MetaDB, storage: Storage) -> None:
    svc = ModelService(meta, QueryService(storage), clock=lambda: END / 1000, window_ms=6 * DAY)
    expr = 'demand{role="web"}'
    v1 = svc.train("web", ForecasterSpec(expr, 6 * HOUR, season="none"))
    assert (v1["version"], v1["stage"]) == (1, "production")
    assert v1["metrics"]["promotion"] == "first version" and v1["params"]["season"] == "none"
    win = v1["params"]["training_window"]
    assert win["end"] - win["start"] == 6 * DAY / 1000

    v2 = svc.train("web", ForecasterSpec(expr, 6 * HOUR, season="daily"))
    assert v2["stage"] == "production" and v2["params"]["model"].startswith("daily")
    cmp = v2["metrics"]["compared"]
    assert cmp["production_version"] == 1
    assert v2["metrics"]["mase"] < cmp["production_mase_same_window"]
    stages = {r["version"]: r["stage"] for r in svc.versions("web")}
    assert stages == {1: "archived", 2: "production"}

    v3 = svc.train("web")  # the production spec again, same window: no better, so rejected
    assert v3["stage"] == "rejected" and v3["params"]["season"] == "daily"
    assert v3["metrics"]["mase"] == v3["metrics"]["compared"]["production_mase_same_window"]

    back = svc.rollback("web")
    assert back["version"] == 1 and back["stage"] == "production"
    stages = {r["version"]: r["stage"] for r in svc.versions("web")}
    assert stages == {1: "production", 2: "rolled_back", 3: "rejected"}
    with pytest.raises(Conflict, match="no earlier production version"):
        svc.rollback("web")
    assert svc.promote("web", 3)["stage"] == "production"
    with pytest.raises(Conflict, match="already in production"):
        svc.promote("web", 3)
    assert [r["version"] for r in svc.retrain_all()] == [4]


def test_bad_requests_are_specific(meta: MetaDB, storage: Storage) -> None:
    svc = ModelService(meta, QueryService(storage), clock=lambda: END / 1000)
    with pytest.raises(NotFound, match="give an expression"):
        svc.train("nope")
    with pytest.raises(InvalidInput, match="returned 2 series"):
        svc.train("all", ForecasterSpec("demand", HOUR))
    with pytest.raises(NotFound, match="no data"):
        svc.train("missing", ForecasterSpec("absent_metric", HOUR))
    with pytest.raises(InvalidInput, match="season must be one of"):
        svc.train("x", ForecasterSpec("demand", HOUR, season="yearly"))
    with pytest.raises(NotFound, match="no version 7"):
        svc.promote("x", 7)
    with pytest.raises(NotFound, match="nothing|no version in production"):
        svc.rollback("x")
    assert svc.versions() == []
