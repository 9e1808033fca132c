"""The function table is complete against Prometheus 3.5's list and agrees with the parser
about every signature."""

from __future__ import annotations

import promql_parser
import pytest

from openmanager.promql.functions import FUNCTIONS
from openmanager.promql.types import FunctionDef, ValueType

# Prometheus 3.5 promql/functions.go FunctionCalls, without `info` (needs the target_info
# join, not implemented) and the ones the parser binding does not know.
PROMETHEUS_FUNCTIONS = """
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
clamp_max clamp_min cos cosh count_over_time days_in_month day_of_month day_of_week day_of_year
deg delta deriv exp first_over_time floor histogram_avg histogram_count histogram_fraction
histogram_quantile histogram_sum histogram_stddev histogram_stdvar double_exponential_smoothing
hour idelta increase irate label_replace label_join ln log10 log2 last_over_time mad_over_time
max_over_time min_over_time ts_of_first_over_time ts_of_last_over_time ts_of_max_over_time
ts_of_min_over_time minute month pi predict_linear present_over_time quantile_over_time rad rate
resets round scalar sgn sin sinh sort sort_desc sort_by_label sort_by_label_desc sqrt
stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year
""".split()

_DUMMY = {
    ValueType.VECTOR: "x",
    ValueType.MATRIX: "x[5m]",
    ValueType.SCALAR: "1",
    ValueType.STRING: '"a"',
}


def test_every_prometheus_function_is_registered() -> None:
    assert sorted(set(PROMETHEUS_FUNCTIONS) - set(FUNCTIONS)) == []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_signature_matches_the_parser(name: str) -> None:
    defn: FunctionDef = FUNCTIONS[name]
    args = [_DUMMY[t] for t in defn.arg_types]
    # The full signature, the shortest one, and one extra variadic argument all parse.
    promql_parser.parse(f"{name}({', '.join(args)})")
    shortest = args[: len(args) - defn.optional_args]
    promql_parser.parse(f"{name}({', '.join(shortest)})")
    if defn.variadic:
        promql_parser.parse(f"{name}({', '.join([*args, args[-1]])})")
    with pytest.raises(ValueError):
        promql_parser.parse(f"{name}({', '.join([*args, '1', '1', '1'])})")
    parsed = promql_parser.parse(f"{name}({', '.join(args)})")
    assert isinstance(parsed, promql_parser.Call)
    assert str(parsed.func.return_type).rsplit(".", 1)[-1].lower() == defn.return_type.value


def test_experimental_functions_are_marked() -> None:
    marked = {n for n, d in FUNCTIONS.items() if d.extra.get("experimental")}
    assert marked == {
        "double_exponential_smoothing",
        "first_over_time",
        "mad_over_time",
        "sort_by_label",
        "sort_by_label_desc",
        "ts_of_first_over_time",
        "ts_of_last_over_time",
        "ts_of_max_over_time",
        "ts_of_min_over_time",
    }
