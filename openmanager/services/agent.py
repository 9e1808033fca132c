"""The host agent: collect this machine every interval and store it locally or push it.

`LocalSink` appends to a `Storage`; `RemoteWriteSink` sends remote-write 1.0 requests with
retries (tenacity) on connection errors, 5xx and 429, and none on other 4xx, like
Prometheus's queue manager.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from openmanager.config.scrape import AgentSettings
from openmanager.errors import InvalidInput, Unavailable
from openmanager.ingest.host import HostCollector
from openmanager.ingest.host_source import HostSource, PsutilSource
from openmanager.ingest.remote_write import HEADERS, encode_write_request
from openmanager.samples import SampleBatch
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where collected batches go."""

    def write(self, batch: SampleBatch) -> None:
        """Deliver one batch (durably, or raise)."""
        ...


@dataclass
class LocalSink:
    """Appends to the local store."""

    storage: Storage

    def write(self, batch: SampleBatch) -> None:
        """Append; rejected samples are logged (a clock step back, for instance)."""
        result = self.storage.append(batch)
        if result.rejected:
            log.warning("agent: %d samples rejected by the store", result.rejected)


class _Retryable(Exception):
    """A send failed in a way worth retrying."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


class RemoteWriteSink:
    """Pushes batches to a remote-write receiver (OpenManager, Prometheus, VictoriaMetrics)."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 5,
        max_wait_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.client = httpx.Client(transport=transport, timeout=timeout_s)
        self._send = retry(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.1, max=max_wait_s),
            reraise=True,
        )(self._send_once)

    def write(self, batch: SampleBatch) -> None:
        """Send one request; Unavailable after the retries, InvalidInput if refused (4xx)."""
        body = encode_write_request(batch)
        try:
            self._send(body)
        except (_Retryable, httpx.TransportError) as exc:
            raise Unavailable(f"remote write to {self.url} failed: {exc}") from exc

    def _send_once(self, body: bytes) -> None:
        resp = self.client.post(self.url, content=body, headers=HEADERS)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Retryable(f"HTTP {resp.status_code}: {resp.text.strip()[:200]}")
        if resp.status_code >= 400:
            raise InvalidInput(
                f"remote write refused: HTTP {resp.status_code}: {resp.text.strip()[:200]}"
            )

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


class Agent:
    """Collects the host and hands each batch to a sink."""

    def __init__(
        self, settings: AgentSettings, sink: Sink, source: HostSource | None = None
    ) -> None:
        self.collector = HostCollector(
            source if source is not None else PsutilSource(), settings.job, settings.instance
        )
        self.sink = sink
        self.last_samples = 0

    def tick(self) -> None:
        """Collect once and deliver (`last_samples` says how many)."""
        batch = self.collector.collect()
        self.sink.write(batch)
        self.last_samples = len(batch)
