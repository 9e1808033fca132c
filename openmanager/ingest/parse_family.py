"""Metric families while parsing: HELP/TYPE/UNIT, sample-name to family mapping, ordering rules."""

from __future__ import annotations

from collections.abc import Iterable

from openmanager.ingest.parse_types import INTERLEAVED_FAMILY, INVALID_METADATA, LineError
from openmanager.samples import SeriesMeta

_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("_count", "_sum", "_created"),
    "info": ("_info",),
}
_ALL_SUFFIXES = sorted({s for group in _SUFFIXES.values() for s in group})


class FamilyTracker:
    """Metadata per family and the family of each sample name (`foo_total` -> `foo` for counters)."""

    def __init__(self, openmetrics: bool) -> None:
        self.openmetrics = openmetrics
        self._meta: dict[str, dict[str, str]] = {}
        self._family_of: dict[str, str] = {}
        self._with_samples: set[str] = set()
        self._current: str | None = None
        self._done: set[str] = set()
        self.declared_since_flush: set[str] = set()

    def on_metadata(self, kind: str, name: str, text: str) -> None:
        """Record a `# HELP|TYPE|UNIT` line; a repeated or late one is an error."""
        key = kind.lower()
        if self.openmetrics:
            self._enter(name, "metadata")
        entry = self._meta.setdefault(name, {})
        if key in entry:
            raise LineError(INVALID_METADATA, f'second # {kind} line for metric "{name}"')
        if key == "type" and name in self._with_samples:
            raise LineError(INVALID_METADATA, f'# TYPE line for metric "{name}" after its samples')
        entry[key] = "unknown" if text == "untyped" else text
        if key == "type":
            self._family_of.clear()
        self.declared_since_flush.add(name)

    def family(self, metric: str) -> str:
        """The family a sample name belongs to, by the declared types of its possible bases."""
        fam = self._family_of.get(metric)
        if fam is not None:
            return fam
        fam = metric
        if metric not in self._meta or "type" not in self._meta[metric]:
            for suffix in _ALL_SUFFIXES:
                if metric.endswith(suffix):
                    base = metric[: -len(suffix)]
                    mtype = self._meta.get(base, {}).get("type", "")
                    if suffix in _SUFFIXES.get(mtype, ()):
                        fam = base
                        break
        self._family_of[metric] = fam
        return fam

    def on_samples(self, family: str) -> None:
        """Note samples of `family`; in OpenMetrics a family may not resume after another began."""
        self._with_samples.add(family)
        if self.openmetrics:
            self._enter(family, "samples")

    def _enter(self, family: str, what: str) -> None:
        if family == self._current:
            return
        if family in self._done:
            raise LineError(
                INTERLEAVED_FAMILY,
                f'{what} of metric family "{family}" interleaved with another family '
                "(OpenMetrics keeps each family together)",
            )
        if self._current is not None:
            self._done.add(self._current)
        self._current = family

    def metadata(self, families: Iterable[str]) -> dict[str, SeriesMeta]:
        """SeriesMeta of the given families that have metadata, keyed by text-format family name."""
        out: dict[str, SeriesMeta] = {}
        for fam in families:
            entry = self._meta.get(fam)
            if entry:
                key = fam
                if self.openmetrics and entry.get("type") == "counter":
                    key = fam + "_total"  # keyed like the text format, by the counter's series
                out[key] = SeriesMeta(
                    type=entry.get("type", "unknown"),
                    help=entry.get("help", ""),
                    unit=entry.get("unit", ""),
                )
        return out
