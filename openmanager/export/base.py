"""The exporter interface: a batch of samples in, written (or an error saying whether to retry)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from openmanager.errors import InvalidInput, Unavailable


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample to export: metric name, other labels (sorted), time (Unix ms), value, metric type."""

    name: str
    labels: tuple[tuple[str, str], ...]
    timestamp_ms: int
    value: float
    type: str = "unknown"
    """The family's type from metadata: counter, gauge, histogram, summary or unknown."""


class ExportFailed(Unavailable):
    """The target could not take the batch now (network error, 5xx, 429): worth retrying."""


class ExportRejected(InvalidInput):
    """The target refused the batch as invalid (4xx): retrying the same bytes cannot help."""


class Exporter(Protocol):
    """A target format. `send` writes the batch and returns how many samples it carried
    (samples its format cannot represent, such as NaN for InfluxDB, are skipped and not counted)."""

    kind: str

    def send(self, batch: Sequence[Sample]) -> int: ...

    def close(self) -> None: ...


def check_response(response: httpx.Response, what: str) -> None:
    """Raise ExportFailed for retryable statuses (429, 5xx), ExportRejected for other non-2xx."""
    if response.is_success:
        return
    detail = f"{what}: HTTP {response.status_code}: {response.text[:300]}"
    if response.status_code == 429 or response.status_code >= 500:
        raise ExportFailed(detail)
    raise ExportRejected(detail)


def post(
    client: httpx.Client,
    url: str,
    what: str,
    *,
    content: bytes,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """POST with transport errors turned into ExportFailed and statuses checked."""
    try:
        response = client.post(url, content=content, headers=headers, params=params)
    except httpx.TransportError as exc:
        raise ExportFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
    check_response(response, what)
    return response
