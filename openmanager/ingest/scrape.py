"""One target's scrape: fetch, parse, label, limit, mark stale, and report like Prometheus.

A `ScrapeLoop` keeps what Prometheus's scrape loop keeps between scrapes: the series of the
last scrape (for stale markers) and a cache from scraped label sets to final ones. `scrape()`
returns the batch to store: the samples, stale markers for vanished series, and the report
series `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
`scrape_samples_post_metric_relabeling`, `scrape_series_added`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

from openmanager.config.scrape import ScrapeConfig
from openmanager.errors import InvalidInput
from openmanager.ingest.exposition_parse import ParseOptions, parse_text
from openmanager.ingest.relabel import CompiledRule, relabel
from openmanager.ingest.targets import Target
from openmanager.samples import METRIC_NAME, STALE_NAN, Labels, SampleBatch
from openmanager.units import parse_duration

ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
"""The Accept header Prometheus 2.x sends."""

REPORT_NAMES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)


class ScrapeError(Exception):
    """A scrape failed; the message is what `/api/v1/targets` shows as lastError."""


@dataclass
class ScrapeState:
    """What `/api/v1/targets` reports about a target."""

    health: str = "unknown"
    last_error: str = ""
    last_scrape: float | None = None
    last_duration_s: float = 0.0


@dataclass
class ScrapeLoop:
    """Scrapes one target; holds its staleness and label caches between scrapes."""

    target: Target
    config: ScrapeConfig
    metric_rules: list[CompiledRule]
    clock: Callable[[], float] = time.time
    state: ScrapeState = field(default_factory=ScrapeState)
    _last_series: set[Labels] = field(default_factory=set)
    _cache: dict[Labels, Labels | None] = field(default_factory=dict)

    async def scrape(self, client: httpx.AsyncClient) -> SampleBatch:
        """Scrape once; the batch always holds the report series, success or not."""
        start = self.clock()
        ts_ms = int(start * 1000)
        started = time.perf_counter()
        scraped = post = added = 0
        limit = self.config.sample_limit
        try:
            body, fmt = await self._fetch(client)
            batch, scraped = self._parse(body, fmt, ts_ms)
            post = len(batch)
            if limit and post > limit:
                # Prometheus keeps counting to report the total, appends `limit`, rolls back.
                post = limit
                raise ScrapeError("sample limit exceeded")
        except ScrapeError as exc:
            batch, error = SampleBatch.empty(), str(exc)
        else:
            error = ""
        if error and error != "sample limit exceeded":
            scraped = post = 0
        duration = time.perf_counter() - started
        # Series with explicit timestamps are not tracked for staleness (as in Prometheus).
        tracked = batch.series_ref[batch.timestamps == ts_ms]
        current = {batch.series[int(r)] for r in np.unique(tracked)}
        if not error:
            added = len(current - self._last_series)
        rows = self._stale_rows(current, ts_ms)
        self._last_series = current
        self.state = ScrapeState("down" if error else "up", error, start, duration)
        report = [
            (0.0 if error else 1.0),
            duration,
            float(scraped),
            float(post),
            float(added),
        ]
        rows += [
            (self._report_labels(n), ts_ms, v) for n, v in zip(REPORT_NAMES, report, strict=True)
        ]
        return _append_rows(batch, rows)

    def stale_batch(self) -> SampleBatch:
        """Stale markers for every series of the target (it went away)."""
        ts_ms = int(self.clock() * 1000)
        rows = self._stale_rows(set(), ts_ms)
        rows += [(self._report_labels(n), ts_ms, STALE_NAN) for n in REPORT_NAMES]
        self._last_series = set()
        return _append_rows(SampleBatch.empty(), rows)

    async def _fetch(self, client: httpx.AsyncClient) -> tuple[bytes, str]:
        timeout = parse_duration(self.config.scrape_timeout) / 1000
        headers = {
            "Accept": ACCEPT,
            "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout:g}",
        }
        if self.config.bearer_token:
            headers["Authorization"] = f"Bearer {self.config.bearer_token}"
        auth = self.config.basic_auth
        try:
            resp = await client.get(
                self.target.url,
                headers=headers,
                timeout=timeout,
                auth=(auth.username, auth.password) if auth else None,
            )
        except httpx.TimeoutException:
            raise ScrapeError("context deadline exceeded") from None
        except httpx.HTTPError as exc:
            raise ScrapeError(f'Get "{self.target.url}": {exc}') from None
        if resp.status_code != 200:
            raise ScrapeError(
                f"server returned HTTP status {resp.status_code} {resp.reason_phrase}"
            )
        ctype = resp.headers.get("content-type", "")
        fmt = "openmetrics" if ctype.startswith("application/openmetrics-text") else "text"
        return resp.content, fmt

    def _parse(self, body: bytes, fmt: str, ts_ms: int) -> tuple[SampleBatch, int]:
        options = ParseOptions(
            format="openmetrics" if fmt == "openmetrics" else "text",
            strict=True,
            default_timestamp_ms=ts_ms,
        )
        try:
            raw = parse_text(body, options).batch
        except InvalidInput as exc:
            raise ScrapeError(str(exc)) from None
        if not self.config.honor_timestamps:
            raw.timestamps = np.full(len(raw), ts_ms, dtype=np.int64)
        return self._label(raw), len(raw)

    def _label(self, raw: SampleBatch) -> SampleBatch:
        """Attach target labels, run metric relabelling; series mapped once and cached."""
        final: dict[Labels, int] = {}
        mapping = np.empty(len(raw.series), dtype=np.int64)
        for i, labels in enumerate(raw.series):
            out = self._cache.get(labels, ())
            if out == ():
                out = self._final_labels(labels)
                self._cache[labels] = out
            mapping[i] = -1 if out is None else final.setdefault(out, len(final))
        refs = mapping[raw.series_ref] if len(raw) else raw.series_ref
        keep = refs >= 0
        return SampleBatch(
            list(final), refs[keep], raw.timestamps[keep], raw.values[keep], raw.metadata
        )

    def _final_labels(self, scraped: Labels) -> Labels | None:
        out = dict(scraped)
        for name, value in self.target.labels:
            if self.config.honor_labels and name in out:
                continue
            if name in out:
                exported = f"exported_{name}"
                while exported in out:
                    exported = f"exported_{exported}"
                out[exported] = out.pop(name)
            out[name] = value
        if self.metric_rules:
            relabelled = relabel(out, self.metric_rules)
            if relabelled is None or not relabelled.get(METRIC_NAME):
                return None
            out = relabelled
        return tuple(sorted((k, v) for k, v in out.items() if v != ""))

    def _report_labels(self, name: str) -> Labels:
        return tuple(sorted({**dict(self.target.labels), METRIC_NAME: name}.items()))

    def _stale_rows(self, current: set[Labels], ts_ms: int) -> list[tuple[Labels, int, float]]:
        return [(s, ts_ms, STALE_NAN) for s in sorted(self._last_series - current)]


def _append_rows(batch: SampleBatch, rows: list[tuple[Labels, int, float]]) -> SampleBatch:
    """The batch plus extra (labels, ts, value) rows."""
    if not rows:
        return batch
    index = {s: i for i, s in enumerate(batch.series)}
    series = list(batch.series)
    refs = [index.setdefault(lbl, len(index)) for lbl, _, _ in rows]
    series.extend(s for s in list(index)[len(series) :])
    return SampleBatch(
        series,
        np.concatenate([batch.series_ref, np.asarray(refs, dtype=np.int64)]),
        np.concatenate([batch.timestamps, np.asarray([r[1] for r in rows], dtype=np.int64)]),
        np.concatenate([batch.values, np.asarray([r[2] for r in rows], dtype=np.float64)]),
        batch.metadata,
    )
