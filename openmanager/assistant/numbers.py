"""Checking a model's answer: every number in it must come from the evidence (in some unit)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBER = re.compile(r"(?<![\w.\-])-?\d+(?:,\d{3})*(?:\.\d+)?")
_IGNORED = (
    re.compile(r"`[^`]*`"),  # PromQL and names in code spans
    re.compile(r"\[\d+\]"),  # citation marks
    re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?"),  # timestamps
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"),  # clock times
    re.compile(r"\b[A-Za-z_][\w.:\-]*\d[\w.:\-]*"),  # identifiers with digits: db-01, p95, k8s
)
SCALES = (
    1.0,
    100.0,
    1000.0,
    1e-3,
    1e-6,
    1e-9,
    1e-12,
    1 / 60,
    1 / 3600,
    1 / 86400,
    2.0**-20,
    2.0**-30,
)
"""How a figure may be shown: as is, percent, ms, k/M/G/T, minutes, hours, days, MiB, GiB."""
ALWAYS = frozenset({0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 100.0})
"""Counting words and list numbering, not measurements."""


def numbers_in(text: str) -> list[str]:
    """Numbers as written in `text`, leaving out names, citations, times and code."""
    for pattern in _IGNORED:
        text = pattern.sub(" ", text)
    return _NUMBER.findall(text)


def unsupported(text: str, evidence: Iterable[float], question: str = "") -> list[str]:
    """Numbers in `text` that match no evidence figure in any of the usual units."""
    allowed = [v * s for v in evidence for s in SCALES if v == v]
    allowed += [float(n.replace(",", "")) for n in numbers_in(question)]
    bad: list[str] = []
    for written in numbers_in(text):
        x = float(written.replace(",", ""))
        if x in ALWAYS:
            continue
        decimals = len(written.split(".")[1]) if "." in written else 0
        tol_abs = 0.5 * 10.0**-decimals
        if not any(abs(abs(x) - abs(a)) <= max(tol_abs, 0.011 * abs(a)) for a in allowed):
            bad.append(written)
    return bad
