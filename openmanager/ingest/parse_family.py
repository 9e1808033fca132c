"""Metric families while parsing: HELP/TYPE/UNIT, sample-name to family mapping, ordering rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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

    def copy(self) -> FamilyTracker:
        """An independent copy of the state (to go back to if a replay does not match)."""
        out = FamilyTracker(self.openmetrics)
        out._meta = {k: dict(v) for k, v in self._meta.items()}
        out._family_of = dict(self._family_of)
        out._with_samples = set(self._with_samples)
        out._current = self._current
        out._done = set(self._done)
        out.declared_since_flush = set(self.declared_since_flush)
        return out


Event = tuple[str, object, object]
"""A traced tracker call: ("meta", (kind, name, text), error), ("samples", family, error),
("family", metric, family) or ("emit", families, None); error is None or (reason, message)."""


class TracingFamilyTracker(FamilyTracker):
    """A tracker that logs its answers once `events` is set, so that a parse done from a guessed
    state (a file segment behind its preamble) can be checked against the true state later."""

    def __init__(self, openmetrics: bool) -> None:
        super().__init__(openmetrics)
        self.events: list[Event] | None = None

    def on_metadata(self, kind: str, name: str, text: str) -> None:
        """Record the line and its outcome (see `FamilyTracker.on_metadata`)."""
        self._traced("meta", (kind, name, text), super().on_metadata, kind, name, text)

    def on_samples(self, family: str) -> None:
        """Record the family and the outcome (see `FamilyTracker.on_samples`)."""
        self._traced("samples", family, super().on_samples, family)

    def family(self, metric: str) -> str:
        """Record the answers that were computed rather than cached (the cache is pure)."""
        if self.events is None or metric in self._family_of:
            return super().family(metric)
        fam = super().family(metric)
        self.events.append(("family", metric, fam))
        return fam

    def metadata(self, families: Iterable[str]) -> dict[str, SeriesMeta]:
        """Record which families a chunk's metadata covers (recomputed from the true state)."""
        names = frozenset(families)
        if self.events is not None:
            self.events.append(("emit", names, None))
        return super().metadata(names)

    def _traced(self, kind: str, arg: object, call: Callable[..., None], *args: str) -> None:
        if self.events is None:
            call(*args)
            return
        try:
            call(*args)
        except LineError as exc:
            self.events.append((kind, arg, (exc.reason, exc.message)))
            raise
        self.events.append((kind, arg, None))


def replay(tracker: FamilyTracker, events: list[Event]) -> list[dict[str, SeriesMeta]] | None:
    """Apply traced calls to the true `tracker`; the metadata of each emitted chunk, or None
    as soon as an answer differs (the traced parse is then not what one reader would do)."""
    out: list[dict[str, SeriesMeta]] = []
    for kind, arg, result in events:
        if kind == "family":
            if tracker.family(str(arg)) != result:
                return None
            continue
        if kind == "emit":
            names = set(arg) | tracker.declared_since_flush  # type: ignore[call-overload]
            out.append(tracker.metadata(names))
            tracker.declared_since_flush.clear()
            continue
        error: tuple[str, str] | None = None
        try:
            if kind == "meta":
                tracker.on_metadata(*arg)  # type: ignore[misc]
            else:
                tracker.on_samples(str(arg))
        except LineError as exc:
            error = (exc.reason, exc.message)
        if error != result:
            return None
    return out
