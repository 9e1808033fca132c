"""Prometheus 3.5's own PromQL test scripts, every eval a pytest case, over the embedded TSDB.

Each file's `load` blocks go into a real `EmbeddedStorage` in a temp dir (one store per distinct
set of loads, shared by the cases that see it); out-of-scope cases are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openmanager.config.settings import StorageSettings
from openmanager.promql.conformance import Case, Outcome, cases_from_text, load_batch, run_case
from openmanager.tsdb.engine import EmbeddedStorage
from openmanager.tsdb.storage import Storage

SUITE_DIR = Path("/work/shared/promql-tests")


def _cases() -> list[Case]:
    out: list[Case] = []
    for path in sorted(SUITE_DIR.glob("*.test")):
        out.extend(cases_from_text(path.name, path.read_text()))
    return out


CASES = _cases()


class _Stores:
    """Lazily built stores keyed by the exact loads a case sees."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stores: dict[tuple[str, tuple[int, ...]], Storage] = {}

    def get(self, case: Case) -> Storage:
        key = (case.file, tuple(load.line for load in case.loads))
        store = self.stores.get(key)
        if store is None:
            path = self.root / f"{case.file}-{len(self.stores)}"
            settings = StorageSettings(
                path=path,
                out_of_order_window="100y",
                future_tolerance="100y",
                block_duration="100y",
                wal_fsync=False,
            )
            store = EmbeddedStorage(path, settings, now_ms=lambda: 0)
            batch = load_batch(case.loads)
            if len(batch):
                result = store.append(batch)
                assert result.rejected == 0, result
            self.stores[key] = store
        return store

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Stores]:
    s = _Stores(tmp_path_factory.mktemp("promql-suite"))
    yield s
    s.close()


@pytest.mark.skipif(not SUITE_DIR.is_dir(), reason="Prometheus test scripts not present")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_prometheus_case(case: Case, stores: _Stores) -> None:
    result = run_case(case, stores.get(case))
    if result.outcome is Outcome.SKIP:
        pytest.skip(result.message)
    if result.outcome is Outcome.XFAIL:
        pytest.xfail(result.message)
    assert result.outcome is Outcome.PASS, f"{case.id} {case.eval.expr}: {result.message}"
