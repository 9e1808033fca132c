"""The remote backend: writes by Prometheus remote-write, reads by the Prometheus HTTP API.

Points OpenManager at VictoriaMetrics, Prometheus (with `--web.enable-remote-write-receiver`)
or Mimir with one setting, `storage.remote_url`. The server flavour is detected on first use
(`/api/v1/status/buildinfo` carries a version on Prometheus; VictoriaMetrics answers
`/api/v1/export`) or given explicitly. What each peer does with values:

- Prometheus keeps float64 bit-exactly, NaN included; range selectors skip stale markers, so
  `select` never returns them. Raw samples are read with an instant query of `{...}[r]`.
- VictoriaMetrics (1.79) reads raw samples via `/api/v1/export`; it stores values as decimals
  with about 12 significant digits (a value like 1/3 comes back rounded), drops plain NaN,
  and returns stale markers, which this backend turns back into the stale-marker NaN.
- Durability is the remote's: an acknowledged write is in its memory buffer (VM flushes it
  within about a second; `flush()` forces it). Metadata sent with writes is remembered here,
  because neither peer stores metadata it receives by remote-write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal, TypeVar

import httpx
import numpy as np
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from openmanager.config.settings import StorageSettings
from openmanager.errors import ConfigError, InvalidInput, NotFound, Unavailable
from openmanager.ingest.remote_write import HEADERS, encode_write_request
from openmanager.resilience import CircuitBreaker
from openmanager.samples import (
    STALE_NAN,
    Float64Array,
    Int64Array,
    Labels,
    SampleBatch,
    SeriesMeta,
)
from openmanager.tsdb.matchers import Matcher, MatchType, matches_all
from openmanager.tsdb.storage import AppendResult, Series, StorageStats, TierStats

Flavor = Literal["auto", "prometheus", "victoriametrics"]
T = TypeVar("T")

MIN_TIME_MS = -(2**62)
MAX_TIME_MS = 2**62
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class _Retryable(Exception):
    """A failure worth another attempt (connection error, 5xx, 429)."""


class RemoteStorage:
    """`Storage` over a Prometheus-compatible server at `settings.remote_url`."""

    def __init__(
        self,
        settings: StorageSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        flavor: Flavor = "auto",
        timeout_s: float = 30.0,
        max_samples_per_request: int = 20_000,
        attempts: int = 5,
        retry_wait_s: float = 0.2,
    ) -> None:
        if not settings.remote_url:
            raise ConfigError("storage.remote_url is empty: set it to the remote store's base URL")
        self.url = settings.remote_url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, transport=transport, timeout=timeout_s)
        self._flavor: Flavor = flavor
        self.max_samples_per_request = max(1, max_samples_per_request)
        self._attempts = max(1, attempts)
        self._wait_s = retry_wait_s
        self._metadata: dict[str, SeriesMeta] = {}
        # Once the store keeps failing after all retries, fail fast (503) instead of making
        # every write and query wait out its retries; one trial request after the pause.
        self.breaker = CircuitBreaker("remote-storage", failure_threshold=3, reset_after_s=10.0)

    # -- writing ----------------------------------------------------------------------------

    def append(self, batch: SampleBatch) -> AppendResult:
        """Send the batch in requests of at most `max_samples_per_request` samples each."""
        if not len(batch) and not batch.metadata:
            return AppendResult()
        order = np.lexsort((batch.timestamps, batch.series_ref))
        for i, lo in enumerate(range(0, max(len(batch), 1), self.max_samples_per_request)):
            idx = order[lo : lo + self.max_samples_per_request]
            part = SampleBatch(
                batch.series,
                batch.series_ref[idx],
                batch.timestamps[idx],
                batch.values[idx],
                batch.metadata if i == 0 else {},
            )
            body = encode_write_request(part)
            try:
                self._request("POST", "/api/v1/write", content=body, headers=HEADERS)
            except NotFound as exc:
                raise Unavailable(f"remote store takes no remote-write: {exc.message}") from exc
        self._metadata.update(batch.metadata)
        return AppendResult(accepted=len(batch))

    def maintain(self) -> None:
        """Nothing to do: the remote store compacts and expires its own data."""

    def flush(self) -> None:
        """Make acknowledged writes searchable now (VictoriaMetrics' force_flush; else no-op)."""
        if self.flavor == "victoriametrics":
            self._request("GET", "/internal/force_flush")

    # -- reading ----------------------------------------------------------------------------

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        """Raw samples with start_ms <= t <= end_ms of every matching series."""
        if end_ms < start_ms:
            return []
        selector = selector_text(matchers)
        if self.flavor == "victoriametrics":
            series = self._export(selector, start_ms, end_ms)
        else:
            series = self._range_query(selector, start_ms, end_ms)
        # Servers differ on edge cases (VM matches `{l!~".*"}` on series without `l`): the
        # matchers' own Prometheus semantics decide, and series left empty are dropped.
        wanted = list(matchers)
        kept = [s for s in series if len(s.timestamps) and matches_all(s.labels, wanted)]
        return sorted(kept, key=lambda s: s.labels)

    def _export(self, selector: str, start_ms: int, end_ms: int) -> list[Series]:
        params = {"match[]": selector, "start": _seconds(start_ms), "end": _seconds(end_ms)}
        text = self._request("GET", "/api/v1/export", params=params).text
        merged: dict[Labels, list[tuple[Int64Array, Float64Array]]] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            merged.setdefault(_labels(row["metric"]), []).append(
                (np.asarray(row["timestamps"], dtype=np.int64), _export_values(row["values"]))
            )
        out = []
        for labels, parts in merged.items():
            ts = np.concatenate([t for t, _ in parts])
            vs = np.concatenate([v for _, v in parts])
            keep = (ts >= start_ms) & (ts <= end_ms)
            order = np.argsort(ts[keep], kind="stable")
            out.append(Series(labels, ts[keep][order], vs[keep][order]))
        return out

    def _range_query(self, selector: str, start_ms: int, end_ms: int) -> list[Series]:
        # Prometheus 2.x ranges are closed [t-r, t], 3.x and VM left-open (t-r, t]: ask one
        # millisecond more and cut at start_ms, exact on both.
        query = f"{selector}[{end_ms - start_ms + 1}ms]"
        data = self._api("GET", "/api/v1/query", params={"query": query, "time": _seconds(end_ms)})
        out = []
        for row in data.get("result", []):
            pairs = row.get("values", [])
            secs = np.fromiter(map(float, map(itemgetter(0), pairs)), np.float64, len(pairs))
            ts = np.rint(secs * 1000).astype(np.int64)  # exact: seconds carry 3 decimals
            vs = np.fromiter(map(float, map(itemgetter(1), pairs)), np.float64, len(pairs))
            keep = ts >= start_ms
            out.append(Series(_labels(row["metric"]), ts[keep], vs[keep]))
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Label sets of matching series with samples in the range (the server's resolution)."""
        params = _range_params(matchers, start_ms, end_ms, series=True)
        found = (_labels(m) for m in self._api("GET", "/api/v1/series", params=params))
        wanted = list(matchers)
        return sorted(lb for lb in found if matches_all(lb, wanted))

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted label names, optionally of matching series only."""
        params = _range_params(matchers, start_ms, end_ms)
        return sorted(self._api("GET", "/api/v1/labels", params=params))

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted values of one label, optionally of matching series only."""
        if not _LABEL_NAME.fullmatch(name):
            raise InvalidInput(f"invalid label name {name!r}")
        params = _range_params(matchers, start_ms, end_ms)
        return sorted(self._api("GET", f"/api/v1/label/{name}/values", params=params))

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        """Metadata the server knows (from its own scrapes) merged with what was written here."""
        params = {"metric": metric} if metric else {}
        found: dict[str, SeriesMeta] = {
            k: v for k, v in self._metadata.items() if metric in (None, k)
        }
        for family, entries in self._api("GET", "/api/v1/metadata", params=params).items():
            if entries:
                e = entries[0]
                found[family] = SeriesMeta(
                    e.get("type", "unknown"), e.get("help", ""), e.get("unit", "")
                )
        return found

    def delete_series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        """Delete matching samples in the range; returns how many series were touched."""
        touched = self.series(matchers, start_ms, end_ms)
        if not touched:
            return 0
        selector = selector_text(matchers)
        if self.flavor == "victoriametrics":
            # VM deletes whole series: refuse rather than delete data outside the range.
            before = start_ms > 0 and self._export(selector, 0, start_ms - 1)
            after = end_ms < MAX_TIME_MS and self._export(selector, end_ms + 1, MAX_TIME_MS)
            if before or after:
                raise Unavailable(
                    "VictoriaMetrics deletes whole series only, and matching series have samples "
                    f"outside [{start_ms}, {end_ms}]; widen the range to delete them entirely"
                )
            params = {"match[]": selector}
        else:
            params = {"match[]": selector, "start": _seconds(start_ms), "end": _seconds(end_ms)}
        try:
            self._request("POST", "/api/v1/admin/tsdb/delete_series", params=params, retry=False)
        except Unavailable as exc:
            hint = (
                " (start Prometheus with --web.enable-admin-api)" if "admin" in exc.message else ""
            )
            raise Unavailable(
                f"remote store refused to delete series: {exc.message}{hint}"
            ) from exc
        return len(touched)

    def stats(self) -> StorageStats:
        """Series count (VM `/api/v1/series/count`, Prometheus head stats); samples, bytes: 0."""
        if self.flavor == "victoriametrics":
            counts = self._api("GET", "/api/v1/series/count")
            head: dict[str, Any] = {}
            count = int(counts[0]) if counts else 0
        else:
            head = self._api("GET", "/api/v1/status/tsdb").get("headStats") or {}
            count = int(head.get("numSeries", 0))
        tier = TierStats("remote", count, 0, 0, head.get("minTime"), head.get("maxTime"))
        return StorageStats(count, 0, 0, int(head.get("numSeries", 0)), 0, [tier])

    def close(self) -> None:
        """Release the HTTP connections (the remote owns durability)."""
        self._client.close()

    # -- HTTP -------------------------------------------------------------------------------

    @property
    def flavor(self) -> Flavor:
        """`prometheus` or `victoriametrics`, detected on first use when configured `auto`."""
        if self._flavor == "auto":
            info = self._api("GET", "/api/v1/status/buildinfo", missing_ok=True)
            if isinstance(info, Mapping) and info.get("version"):
                self._flavor = "prometheus"
            else:
                probe = {"match[]": '{__name__="openmanager_flavor_probe"}'}
                found = self._request("GET", "/api/v1/export", params=probe, missing_ok=True)
                self._flavor = "victoriametrics" if found.status_code == 200 else "prometheus"
        return self._flavor

    def _api(self, method: str, path: str, *, missing_ok: bool = False, **kw: Any) -> Any:
        """Call a Prometheus API endpoint and unwrap its `data` envelope."""
        resp = self._request(method, path, missing_ok=missing_ok, **kw)
        if missing_ok and resp.status_code == 404:
            return {}
        try:
            body = resp.json()
        except ValueError as exc:
            raise Unavailable(f"{self.url}{path} answered non-JSON: {resp.text[:200]!r}") from exc
        return body.get("data", {})

    def _request(
        self, method: str, path: str, *, missing_ok: bool = False, retry: bool = True, **kw: Any
    ) -> httpx.Response:
        """Send with retries on connection errors, 429 and 5xx; map other errors to ours."""

        def once() -> httpx.Response:
            try:
                resp = self._client.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise _Retryable(f"{self.url}{path}: {exc!r}") from exc
            if resp.status_code in _RETRY_STATUS:
                raise _Retryable(f"{self.url}{path} answered {resp.status_code}: {_reason(resp)}")
            return resp

        self.breaker.allow()
        try:
            resp = _retrying(once, self._attempts if retry else 1, self._wait_s)
        except Unavailable as exc:
            self.breaker.failure(exc)
            raise
        self.breaker.success()
        if resp.status_code < 400 or (missing_ok and resp.status_code == 404):
            return resp
        reason = _reason(resp)
        if resp.status_code == 404:
            raise NotFound(f"{self.url}{path} not found (404): {reason}")
        raise InvalidInput(f"{self.url}{path} rejected the request ({resp.status_code}): {reason}")


def _retrying(call: Callable[[], T], attempts: int, wait_s: float) -> T:
    retry = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait_s, max=max(wait_s * 16, 0.0)),
        retry=retry_if_exception_type(_Retryable),
        reraise=False,
    )
    try:
        return retry(call)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        raise Unavailable(f"remote store unavailable{tries}: {last}") from last


def _reason(resp: httpx.Response) -> str:
    """The server's own words: Prometheus' `error` field, else the body text."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase
    if isinstance(body, Mapping) and "error" in body:
        return str(body["error"])
    return resp.text.strip()[:500]


def selector_text(matchers: Sequence[Matcher]) -> str:
    """A PromQL series selector for the matchers; `__name__=~".+"` if none is selective."""
    parts = [f"{m.name}{m.type.value}{_quote(m.value)}" for m in matchers]
    if all(m.matches_empty() for m in matchers):
        parts.append('__name__=~".+"')
    return "{" + ",".join(parts) + "}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _seconds(ms: int) -> str:
    """Exact decimal seconds for a millisecond timestamp, as the HTTP API takes them."""
    return format(Decimal(ms).scaleb(-3), "f")


def _export_values(values: list[float | None]) -> Float64Array:
    """VM export values as float64; its `null` is a stale marker."""
    if None not in values:
        return np.asarray(values, dtype=np.float64)
    return np.array([STALE_NAN if v is None else v for v in values], dtype=np.float64)


def _labels(metric: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in metric.items() if v != ""))


def _range_params(
    matchers: Sequence[Matcher], start_ms: int | None, end_ms: int | None, series: bool = False
) -> dict[str, str]:
    """match[] (when there are matchers) and start/end; an open range means all time."""
    out = {"match[]": selector_text(matchers)} if matchers or series else {}
    out["start"] = _seconds(MIN_TIME_MS if start_ms is None else start_ms)
    out["end"] = _seconds(MAX_TIME_MS if end_ms is None else end_ms)
    return out


__all__ = ["MatchType", "RemoteStorage", "selector_text"]
