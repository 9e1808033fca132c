"""Prometheus's warning and info annotations, recorded on the query's EvalContext."""

from __future__ import annotations

import numpy as np

from openmanager.promql.types import EvalContext
from openmanager.samples import Float64Array


def go_float(x: float) -> str:
    """A float as Go's %g prints it (NaN, +Inf, -Inf, 1e+06 ...)."""
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    text = f"{x:g}"
    mantissa, _, exp = text.partition("e")
    if exp:
        sign, digits = exp[0], exp[1:].lstrip("0")
        text = f"{mantissa}e{sign}{digits.rjust(2, '0')}"
    return text


def warn(ctx: EvalContext, message: str) -> None:
    """Record a Prometheus warning annotation once per query."""
    text = f"PromQL warning: {message}"
    if text not in ctx.warnings:
        ctx.warnings.append(text)


def info(ctx: EvalContext, message: str) -> None:
    """Record a Prometheus info annotation once per query."""
    text = f"PromQL info: {message}"
    if text not in ctx.infos:
        ctx.infos.append(text)


def check_quantiles(ctx: EvalContext, q: Float64Array) -> None:
    """Warn (as Prometheus) about quantiles outside [0, 1] or NaN at any step."""
    bad = np.isnan(q) | (q < 0) | (q > 1)
    for value in dict.fromkeys(float(v) for v in q[bad]):
        warn(ctx, f"quantile value should be between 0 and 1, got {go_float(value)}")
