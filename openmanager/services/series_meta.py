"""Series, label and metadata look-ups behind the Prometheus API and the CLI (union over selectors)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from openmanager.samples import Labels, SeriesMeta
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import Storage


def find_series(
    storage: Storage,
    selectors: Sequence[Sequence[Matcher]],
    start_ms: int,
    end_ms: int,
    limit: int = 0,
) -> list[Labels]:
    """Label sets matching any selector, sorted, at most `limit` (0 = all)."""
    found: set[Labels] = set()
    for matchers in selectors:
        found.update(storage.series(matchers, start_ms, end_ms))
    out = sorted(found)
    return out[:limit] if limit > 0 else out


def label_names(
    storage: Storage,
    selectors: Sequence[Sequence[Matcher]],
    start_ms: int,
    end_ms: int,
    limit: int = 0,
) -> list[str]:
    """Label names of all series, or of those matching any selector."""
    return _union(lambda m: storage.label_names(m, start_ms, end_ms), selectors, limit)


def label_values(
    storage: Storage,
    name: str,
    selectors: Sequence[Sequence[Matcher]],
    start_ms: int,
    end_ms: int,
    limit: int = 0,
) -> list[str]:
    """Values of one label over all series, or over those matching any selector."""
    return _union(lambda m: storage.label_values(name, m, start_ms, end_ms), selectors, limit)


def _union(
    lookup: Callable[[Sequence[Matcher]], Iterable[str]],
    selectors: Sequence[Sequence[Matcher]],
    limit: int,
) -> list[str]:
    """Sorted union of `lookup` over the selectors (no selector: over all series), at most `limit`."""
    found = {v for m in (selectors or [()]) for v in lookup(m)}
    out = sorted(found)
    return out[:limit] if limit > 0 else out


def metric_metadata(
    storage: Storage, metric: str | None, limit: int = 0
) -> dict[str, list[dict[str, str]]]:
    """Prometheus's /api/v1/metadata shape: metric -> [{type, help, unit}]."""
    meta: dict[str, SeriesMeta] = storage.metadata(metric)
    names = sorted(meta)
    if limit > 0:
        names = names[:limit]
    return {n: [{"type": meta[n].type, "help": meta[n].help, "unit": meta[n].unit}] for n in names}
