"""Write one sample per series of a derived gauge (anomaly scores, exhaustion times) at one time."""

from __future__ import annotations

import logging

import numpy as np

from openmanager.samples import Labels, SampleBatch, SeriesMeta
from openmanager.tsdb.storage import Storage


def write_gauge(
    storage: Storage,
    metric: str,
    help_text: str,
    labels: list[Labels],
    values: list[float],
    t_ms: int,
    log: logging.Logger,
    what: str,
) -> None:
    """Append `values[i]` for `labels[i]` at `t_ms` with the metric's help; log rejections as `what`."""
    if not labels:
        return
    batch = SampleBatch(
        labels, np.arange(len(labels)), np.full(len(labels), t_ms), np.array(values),
        {metric: SeriesMeta("gauge", help_text)},
    )  # fmt: skip
    result = storage.append(batch)
    if result.rejected:
        log.warning("%s: %d samples rejected: %s", what, result.rejected, result.errors[:3])
