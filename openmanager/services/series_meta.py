"""Series, label and metadata look-ups behind the Prometheus API and the CLI (union over selectors)."""

from __future__ import annotations

from collections.abc import Sequence

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
    if not selectors:
        names = set(storage.label_names((), start_ms, end_ms))
    else:
        names = {n for m in selectors for n in storage.label_names(m, start_ms, end_ms)}
    out = sorted(names)
    return out[:limit] if limit > 0 else out


def label_values(
    storage: Storage,
    name: str,
    selectors: Sequence[Sequence[Matcher]],
    start_ms: int,
    end_ms: int,
    limit: int = 0,
) -> list[str]:
    """Values of one label over all series, or over those matching any selector."""
    if not selectors:
        values = set(storage.label_values(name, (), start_ms, end_ms))
    else:
        values = {v for m in selectors for v in storage.label_values(name, m, start_ms, end_ms)}
    out = sorted(values)
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
