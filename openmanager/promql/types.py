"""Value types the PromQL evaluator passes between nodes, and the function-table contract.

Every expression is evaluated over all steps of a query at once: an instant vector becomes
a `StepVector` (series x steps, with a presence mask since NaN is a legal sample value),
a scalar a `StepScalar` (one value per step), a range selector a `RangeVector` (raw samples
per series plus the evaluation steps and range). An instant query is a range query of one step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from openmanager.samples import Float64Array, Int64Array, Labels
from openmanager.tsdb.matchers import Matcher

BoolArray = npt.NDArray[np.bool_]


class ValueType(StrEnum):
    """PromQL's value types."""

    VECTOR = "vector"
    MATRIX = "matrix"
    SCALAR = "scalar"
    STRING = "string"


@dataclass
class EvalContext:
    """The steps being evaluated (ms), and query-wide settings."""

    steps: Int64Array
    lookback_ms: int = 300_000
    arg_matchers: tuple[tuple[Matcher, ...] | None, ...] = ()
    """Set by the evaluator for each function call: per argument, the label matchers when that
    argument is directly a vector or matrix selector (as Prometheus, parentheses are not looked
    through), else None. `absent()` and
    `absent_over_time()` build their output labels from them."""
    warnings: list[str] = field(default_factory=list)
    """Prometheus's warning annotations raised so far ("PromQL warning: ..."), shared by every
    call of one query (copies made with dataclasses.replace share the list)."""
    infos: list[str] = field(default_factory=list)
    """Prometheus's info annotations raised so far ("PromQL info: ...")."""

    @property
    def n_steps(self) -> int:
        return len(self.steps)


@dataclass
class StepVector:
    """An instant vector at every step: values[i, j] is series i at step j where present[i, j].

    `sample_ts` (optional) holds the timestamp of the sample each value came from, for
    `timestamp()`; it is None once an operation has made values synthetic.
    `drop_name` (optional, one flag per series) marks series whose `__name__` is removed when the
    query finishes (Prometheus 3's delayed name removal); None means no series is marked.
    """

    labels: list[Labels]
    values: Float64Array
    present: BoolArray
    sample_ts: Int64Array | None = None
    drop_name: BoolArray | None = None

    @classmethod
    def empty(cls, n_steps: int) -> StepVector:
        return cls([], np.zeros((0, n_steps)), np.zeros((0, n_steps), dtype=bool))

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class StepScalar:
    """A scalar at every step."""

    values: Float64Array


@dataclass
class StringValue:
    """A string literal (only as a function argument or a top-level result)."""

    value: str


@dataclass
class RangeSeries:
    """One series' raw samples (ascending timestamps, ms)."""

    labels: Labels
    timestamps: Int64Array
    values: Float64Array


@dataclass
class RangeVector:
    """A range selector's result: raw samples per series; window for step t is (t - range_ms, t].

    `steps` are the evaluation timestamps after `offset`/`@` have been applied. Stale markers
    are never included in the samples (the evaluator drops them), as in Prometheus.
    """

    series: list[RangeSeries]
    steps: Int64Array
    range_ms: int
    closed: bool = False
    """Prometheus 2 compatibility: windows are closed, [t - range_ms, t] (see `Engine`)."""

    @property
    def left(self) -> Int64Array:
        """Per step, the newest timestamp a window excludes on its left (integer ms)."""
        return self.steps - self.range_ms - (1 if self.closed else 0)

    def window_bounds(self, series: RangeSeries) -> tuple[Int64Array, Int64Array]:
        """Index bounds [lo, hi) of each step's window into the series' sample arrays."""
        ts = series.timestamps
        lo = np.searchsorted(ts, self.left, side="right")
        hi = np.searchsorted(ts, self.steps, side="right")
        return lo.astype(np.int64), hi.astype(np.int64)


Value = StepVector | StepScalar | StringValue | RangeVector

FunctionImpl = Callable[[EvalContext, Sequence[Value]], Value]
"""A function receives its already-evaluated arguments and returns its result."""


@dataclass(frozen=True)
class FunctionDef:
    """One entry of the PromQL function table."""

    name: str
    arg_types: tuple[ValueType, ...]
    return_type: ValueType
    impl: FunctionImpl
    optional_args: int = 0
    variadic: bool = False
    keeps_name: bool = False
    """True for functions whose result keeps `__name__` (as Prometheus decides per function)."""
    extra: dict[str, object] = field(default_factory=dict)
