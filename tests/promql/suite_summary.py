"""pytest plugin: per-file summary of Prometheus's `.test` scripts in the terminal report (CI logs).

Every `test_prometheus_case[<file>:<line>]` outcome is counted by file; at the end one line
per file says how many evals passed, failed, were skipped or are expected failures. Loaded from
`tests/conftest.py` so that the xdist controller (which collects nothing) registers it too.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

CASE = re.compile(r"test_prometheus_case\[(?P<file>[^:\]]+):\d+\]")
_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count one eval's outcome (call phase, or setup when it was skipped there)."""
    found = CASE.search(report.nodeid)
    if found is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if hasattr(report, "wasxfail"):
            outcome = "xfailed"
        else:
            outcome = report.outcome
        _counts[found["file"]][outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per `.test` file, then the totals."""
    if not _counts:
        return
    tr = terminalreporter
    tr.section("Prometheus PromQL test scripts")
    total: Counter[str] = Counter()
    for name in sorted(_counts):
        c = _counts[name]
        total.update(c)
        tr.write_line(f"{name:40s} {_line(c)}")
    tr.write_line(f"{'TOTAL':40s} {_line(total)}")


def _line(c: Counter[str]) -> str:
    return (
        f"passed {c['passed']:4d}  failed {c['failed']:3d}  "
        f"skipped {c['skipped']:4d}  xfailed {c['xfailed']:2d}"
    )
