"""Writers for the Prometheus text format 0.0.4 (scrape pages) and OpenMetrics 1.0 (history files).

Bulk history goes through a NumPy formatter: values that are exact decimals (counters, gauges
rounded to a few places) become ASCII digits column-wise, so millions of lines cost seconds.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput
from openmanager.samples import METRIC_NAME, Labels, SampleBatch, SeriesMeta

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
Bool = npt.NDArray[np.bool_]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_HIST_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
_MAX_DECIMALS = 6
_MAX_EXACT = 1e15  # decimals of up to 15 significant digits round-trip and are the shortest repr


def format_float(v: float) -> str:
    """A value as Prometheus reads it: NaN, +Inf, -Inf, else the shortest decimal that round-trips.

    Integers print without `.0`; up to 6 decimals print positionally (like the NumPy path).
    """
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < _MAX_EXACT and not (v == 0 and math.copysign(1.0, v) < 0):
        return str(int(v))
    text = repr(v)
    if "e-" in text and abs(v) >= 1e-6:  # e.g. 1e-05: positional, as the NumPy path writes it
        fixed = np.format_float_positional(v, trim="-")
        if len(fixed) - fixed.index(".") - 1 <= _MAX_DECIMALS:
            return fixed
    return text


def escape_label_value(value: str) -> str:
    """Escape backslash, double quote and newline in a label value."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str, openmetrics: bool) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n")
    return out.replace('"', '\\"') if openmetrics else out


@functools.lru_cache(maxsize=1 << 20)
def series_text(labels: Labels) -> str:
    """`name{a="1",b="2"}` for a series, validating the metric and label names (cached)."""
    name = ""
    parts = []
    for k, v in labels:
        if k == METRIC_NAME:
            name = v
            continue
        _check_label_name(k)
        if "\\" in v or '"' in v or "\n" in v:
            v = escape_label_value(v)
        parts.append(f'{k}="{v}"')
    _check_metric_name(name, labels)
    return f"{name}{{{','.join(parts)}}}" if parts else name


@functools.lru_cache(maxsize=4096)
def _check_label_name(name: str) -> None:
    if not _LABEL_RE.match(name) or name.startswith("__"):
        raise InvalidInput(f"invalid label name {name!r}")


def _check_metric_name(name: str, labels: Labels) -> None:
    if name not in _GOOD_NAMES:
        if not _METRIC_RE.match(name):
            raise InvalidInput(f"invalid metric name {name!r} in series {labels!r}")
        _GOOD_NAMES.add(name)


_GOOD_NAMES: set[str] = set()


def family_of(name: str, metadata: Mapping[str, SeriesMeta]) -> str:
    """The metadata key (text-format family) a sample name belongs to: `x_bucket` -> `x`."""
    if name in metadata:
        return name
    for suffix in _HIST_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and metadata.get(base, SeriesMeta()).type in (
            "histogram",
            "summary",
        ):
            return base
    return name


def _om_family(family: str, meta: SeriesMeta) -> tuple[str, str]:
    """OpenMetrics family name and type: counters drop `_total`; others keep their name."""
    if meta.type == "counter":
        if family.endswith("_total"):
            return family[: -len("_total")], "counter"
        return family, "unknown"
    if meta.type in ("gauge", "histogram", "summary", "gaugehistogram", "stateset", "info"):
        return family, meta.type
    return family, "unknown"


# ------------------------------------------------------------------ NumPy formatting


def _decimals(values: F64) -> tuple[int, Bool]:
    """Fewest decimals d that print every "good" row exactly, and which rows are good (per row)."""
    v = np.asarray(values, dtype=np.float64)
    good = np.isfinite(v).all(axis=1) & ~(np.signbit(v) & (v == 0)).any(axis=1)
    pending = good.copy()
    best = 0
    for d in range(_MAX_DECIMALS + 1):
        if not pending.any():
            break
        scale = 10.0**d
        rows = np.flatnonzero(pending)
        with np.errstate(invalid="ignore", over="ignore"):
            k = np.rint(v[rows] * scale)
            ok = ((k / scale) == v[rows]).all(axis=1) & (np.abs(k) < _MAX_EXACT).all(axis=1)
        if ok.any():
            best = d
        pending[rows[ok]] = False
    good &= ~pending
    return best, good


def _digits(k: I64, d: int, suffix: tuple[U8, Bool] | None = None) -> tuple[U8, Bool, I64]:
    """ASCII of k / 10**d per row (sign, digits, point, fraction without trailing zeros), mask, lengths.

    `suffix` (chars, mask) of shape [m, width] is appended to rows cyclically (len(k) % m == 0).
    """
    n = len(k)
    a = np.abs(k)
    w = max(len(str(int(a.max()))) if n else 1, d + 1)
    iw = w - d
    sw = 0 if suffix is None else suffix[0].shape[1]
    chars = np.empty((n, w + 2 + sw), dtype=np.uint8)
    mask = np.empty((n, w + 2 + sw), dtype=np.bool_)
    dig = _digit_rows(a, w)
    chars[:, 1 : 1 + iw] = dig[:iw].T
    chars[:, 2 + iw : w + 2] = dig[iw:].T
    chars[:, 1 : w + 2] += np.uint8(ord("0"))
    chars[:, 1 + iw] = ord(".")
    chars[:, 0] = ord("-")
    whole = a // 10**d
    ndig = np.searchsorted(10 ** np.arange(1, iw, dtype=np.int64), whole, side="right") + 1
    frac = a - whole * 10**d
    keep = np.full(n, d, dtype=np.int64)
    for j in range(1, d + 1):
        keep -= (frac % 10**j == 0).astype(np.int64)
    table = _mask_table(iw, d)
    idx = ((k < 0) * (iw + 1) + ndig) * (d + 1) + keep
    mask[:, : w + 2] = table[idx]
    lengths = table.sum(axis=1)[idx]
    if suffix is not None:
        m = suffix[0].shape[0]
        chars.reshape(n // m, m, -1)[:, :, w + 2 :] = suffix[0][None]
        mask.reshape(n // m, m, -1)[:, :, w + 2 :] = suffix[1][None]
        lengths = (lengths.reshape(n // m, m) + suffix[1].sum(axis=1)[None]).ravel()
    return chars, mask, lengths


def _digit_rows(a: I64, w: int) -> U8:
    """Decimal digits [w, n] of non-negative `a`, most significant first.

    Works in int32 halves of 9 digits with reused buffers: division by a scalar is SIMD-fast,
    allocating temporaries is not.
    """
    n = len(a)
    dig = np.empty((w, n), dtype=np.uint8)
    halves = [(a % 1_000_000_000).astype(np.int32), (a // 1_000_000_000).astype(np.int32)]
    col = w - 1
    for part in halves:
        q, qn, r = part, np.empty_like(part), np.empty_like(part)
        for _ in range(9):
            if col < 0:
                return dig
            np.floor_divide(q, 10, out=qn)
            np.multiply(qn, 10, out=r)
            np.subtract(q, r, out=r)
            dig[col] = r
            q, qn = qn, q
            col -= 1
    return dig


@functools.lru_cache(maxsize=64)
def _mask_table(iw: int, d: int) -> Bool:
    """Which of the w+2 value columns print, per (negative, integer digits, fraction digits)."""
    rows = []
    for neg in (0, 1):
        for nd in range(iw + 1):
            for keep in range(d + 1):
                cols = [bool(neg)] + [c >= iw - nd for c in range(iw)] + [keep > 0]
                rows.append(cols + [c < keep for c in range(d)])
    return np.array(rows, dtype=np.bool_)


def _suffix_block(timestamps_ms: I64 | None) -> tuple[U8, Bool]:
    """` <seconds>\\n` per timestamp (OpenMetrics), or just `\\n` when there are none."""
    if timestamps_ms is None:
        return np.full((1, 1), ord("\n"), dtype=np.uint8), np.ones((1, 1), dtype=np.bool_)
    c, m, _ = _digits(np.asarray(timestamps_ms, dtype=np.int64), 3)
    n = len(c)
    sp = np.full((n, 1), ord(" "), dtype=np.uint8)
    nl = np.full((n, 1), ord("\n"), dtype=np.uint8)
    ones = np.ones((n, 1), dtype=np.bool_)
    return np.concatenate([sp, c, nl], axis=1), np.concatenate([ones, m, ones], axis=1)


def format_rows(values: F64, timestamps_ms: I64 | None) -> list[bytes]:
    """Per row of `values` [series, time]: the bytes `value[ ts]\\n` for every column, joined."""
    vals = np.atleast_2d(np.asarray(values, dtype=np.float64))
    s, n = vals.shape
    if timestamps_ms is not None and len(timestamps_ms) != n:
        raise InvalidInput(f"{n} values per series but {len(timestamps_ms)} timestamps")
    d, good = _decimals(vals)
    out: list[bytes] = [b""] * s
    rows = np.flatnonzero(good)
    if len(rows) and n:
        k = np.rint(vals[rows] * 10.0**d).astype(np.int64).ravel()
        chars, mask, lengths = _digits(k, d, _suffix_block(timestamps_ms))
        blob = chars[mask].tobytes()
        ends = np.cumsum(lengths.reshape(len(rows), n).sum(axis=1)).tolist()
        start = 0
        for r, end in zip(rows.tolist(), ends, strict=True):
            out[r] = blob[start:end]
            start = end
    bad = np.flatnonzero(~good)
    if len(bad):
        if timestamps_ms is None:
            tails = ["\n"] * n
        else:
            tails = [" " + _ts_text(t) + "\n" for t in np.asarray(timestamps_ms).tolist()]
        for r in bad.tolist():
            txt = "".join(format_float(v) + t for v, t in zip(vals[r].tolist(), tails, strict=True))
            out[r] = txt.encode()
    return out


def _ts_text(ms: int) -> str:
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    sec, rem = divmod(ms, 1000)
    return sign + (str(sec) if rem == 0 else f"{sec}.{rem:03d}".rstrip("0"))


def _prefix_lines(prefix: bytes, body: bytes) -> bytes:
    """Put `prefix` in front of every line of `body` (which ends with a newline)."""
    if not body:
        return b""
    return prefix + body[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


# ------------------------------------------------------------------ text format 0.0.4


def render_text(samples: Iterable[tuple[Labels, float]], metadata: Mapping[str, SeriesMeta]) -> str:
    """Text format 0.0.4: one value per series, grouped by family with HELP and TYPE, no timestamps."""
    fams: dict[str, list[tuple[Labels, float]]] = {}
    for labels, value in samples:
        name = next((v for k, v in labels if k == METRIC_NAME), "")
        fams.setdefault(family_of(name, metadata), []).append((labels, value))
    out: list[str] = []
    for fam, items in fams.items():
        meta = metadata.get(fam)
        if meta is not None:
            if meta.help:
                out.append(f"# HELP {fam} {_escape_help(meta.help, False)}\n")
            out.append(f"# TYPE {fam} {meta.type if meta.type != 'unknown' else 'untyped'}\n")
            if meta.type in ("histogram", "summary"):
                items = _group_points(items)
        out.extend(f"{series_text(lbl)} {format_float(v)}\n" for lbl, v in items)
    return "".join(out)


def _point_key(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in labels if k not in (METRIC_NAME, "le", "quantile"))


def _member_order(labels: Labels) -> tuple[int, float]:
    d = dict(labels)
    name = d.get(METRIC_NAME, "")
    if name.endswith("_bucket") or "quantile" in d:
        return 0, float(d.get("le", d.get("quantile", "nan")))
    return (1 if name.endswith("_count") else 2 if name.endswith("_sum") else 3), 0.0


def _group_points(items: list[tuple[Labels, float]]) -> list[tuple[Labels, float]]:
    """Histogram/summary samples of one label set together, buckets by bound, then count, sum."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[Labels, float]]] = {}
    for item in items:
        groups.setdefault(_point_key(item[0]), []).append(item)
    return [it for g in groups.values() for it in sorted(g, key=lambda x: _member_order(x[0]))]


def render_batch_text(batch: SampleBatch) -> str:
    """Text format 0.0.4 of the latest sample of every series in `batch`."""
    order = np.lexsort((batch.timestamps, batch.series_ref))
    refs = batch.series_ref[order]
    last = order[np.r_[np.flatnonzero(np.diff(refs)), len(refs) - 1]] if len(refs) else order
    return render_text(
        ((batch.series[int(batch.series_ref[i])], float(batch.values[i])) for i in last.tolist()),
        batch.metadata,
    )


# ------------------------------------------------------------------ OpenMetrics 1.0


class ByteSink(Protocol):
    """Where the OpenMetrics writer puts bytes: a binary file, or anything that buffers them."""

    def write(self, data: bytes, /) -> object: ...

    def writelines(self, lines: Iterable[bytes | memoryview], /) -> None: ...


class OpenMetricsWriter:
    """Streams OpenMetrics families to a binary file; each family's samples must come together."""

    def __init__(self, out: ByteSink) -> None:
        self.out = out
        self.samples = 0
        self._done: set[str] = set()
        self._current: str | None = None
        self._closed = False

    def write_family(
        self,
        family: str,
        meta: SeriesMeta,
        series: Sequence[Labels],
        timestamps_ms: I64,
        values: F64,
    ) -> None:
        """Samples [len(series), len(timestamps)] of one family; may be called again for later times."""
        if self._closed:
            raise InvalidInput("OpenMetrics writer is closed")
        om_name, om_type = _om_family(family, meta)
        if family != self._current:
            if family in self._done:
                raise InvalidInput(f"metric family {family!r} is not contiguous in the output")
            if self._current is not None:
                self._done.add(self._current)
            self._current = family
            self._header(om_name, om_type, meta)
        vals = np.asarray(values, dtype=np.float64).reshape(len(series), len(timestamps_ms))
        bodies = format_rows(vals, np.asarray(timestamps_ms, dtype=np.int64))
        prefixes = [(series_text(lbl) + " ").encode() for lbl in series]
        self.samples += vals.size
        if om_type in ("histogram", "summary", "gaugehistogram"):
            self._write_points(series, prefixes, bodies)
            return
        parts: list[bytes | memoryview] = []
        for p, body in zip(prefixes, bodies, strict=True):
            if body:  # prefix every line: replace each newline by newline+prefix, drop the last one
                parts.append(p)
                parts.append(memoryview(body.replace(b"\n", b"\n" + p))[: -len(p)])
        self.out.writelines(parts)  # one call: a background writer can take it whole

    def _header(self, name: str, typ: str, meta: SeriesMeta) -> None:
        lines = [f"# TYPE {name} {typ}\n"]
        if meta.unit and name.endswith("_" + meta.unit):
            lines.append(f"# UNIT {name} {meta.unit}\n")
        if meta.help:
            lines.append(f"# HELP {name} {_escape_help(meta.help, True)}\n")
        self.out.write("".join(lines).encode())

    def _write_points(
        self, series: Sequence[Labels], prefixes: list[bytes], bodies: list[bytes]
    ) -> None:
        """Interleave members of each label set per timestamp: one MetricPoint's samples together."""
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for i, lbl in enumerate(series):
            groups.setdefault(_point_key(lbl), []).append(i)
        for members in groups.values():
            members.sort(key=lambda i: _member_order(series[i]))
            g = len(members)
            lines = [bodies[i].split(b"\n")[:-1] for i in members]
            n = len(lines[0])
            if any(len(x) != n for x in lines):
                raise InvalidInput("histogram members have different sample counts")
            parts: list[bytes] = [b""] * (2 * g * n)
            for j, i in enumerate(members):
                parts[2 * j :: 2 * g] = [b"\n" + prefixes[i]] * n
                parts[2 * j + 1 :: 2 * g] = lines[j]
            if parts:
                parts[0] = prefixes[members[0]]
                parts.append(b"\n")
                self.out.writelines(parts)

    def close(self) -> None:
        """Write the `# EOF` terminator (the file object stays open)."""
        if not self._closed:
            self.out.write(b"# EOF\n")
            self._closed = True


def write_openmetrics(batch: SampleBatch, out: BinaryIO, close: bool = True) -> int:
    """Write a whole batch as OpenMetrics (families contiguous, time-ordered); returns samples."""
    writer = OpenMetricsWriter(out)
    fams: dict[str, list[tuple[Labels, I64, F64]]] = {}
    for labels, ts, vs in batch.per_series():
        name = next((v for k, v in labels if k == METRIC_NAME), "")
        order = np.argsort(ts, kind="stable")
        fams.setdefault(family_of(name, batch.metadata), []).append((labels, ts[order], vs[order]))
    for fam, items in fams.items():
        meta = batch.metadata.get(fam, SeriesMeta())
        by_ts: dict[bytes, list[tuple[Labels, I64, F64]]] = {}
        for it in items:  # series sharing a time grid are written in one call
            by_ts.setdefault(it[1].tobytes(), []).append(it)
        for grp in by_ts.values():
            writer.write_family(
                fam, meta, [g[0] for g in grp], grp[0][1], np.stack([g[2] for g in grp])
            )
    if close:
        writer.close()
    return writer.samples
