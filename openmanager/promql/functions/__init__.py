"""The PromQL function table: name -> FunctionDef, filled by the modules of this package."""

from __future__ import annotations

from openmanager.promql.types import FunctionDef

FUNCTIONS: dict[str, FunctionDef] = {}


def experimental() -> dict[str, object]:
    """`FunctionDef.extra` of functions Prometheus 3.5 only enables with
    --enable-feature=promql-experimental-functions."""
    return {"experimental": True}


def register(defn: FunctionDef) -> FunctionDef:
    """Add a function to the table (built-ins register exactly as an extension would)."""
    FUNCTIONS[defn.name] = defn
    return defn


# The built-in library registers itself exactly as an extension module would.
from openmanager.promql.functions import (  # noqa: E402
    histogram,
    labels,
    math,
    misc,
    over_time,
    range_rate,
    regression,
    time_fns,
    window_stats,
)

__all__ = [
    "FUNCTIONS",
    "register",
    "histogram",
    "labels",
    "math",
    "misc",
    "over_time",
    "range_rate",
    "regression",
    "time_fns",
    "window_stats",
]
