"""Split an OpenMetrics workload by value kind, with the peers' own kind table (`breakdown.py`).

OpenMetrics keeps each metric family contiguous, so a kind's subset is a list of byte ranges
(one per family, classified by its first sample's name) copied without parsing a line.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from openmanager.errors import InvalidInput, NotFound

KindTable = Mapping[str, Sequence[str]]
"""Kind -> sample names (with `_total`, `_bucket`, ... suffixes), as `breakdown.GROUPS`."""
OTHER = "other"
SCAN_BLOCK = 8 << 20
COPY_BLOCK = 4 << 20
HEAD_BYTES = 64 * 1024
_DESCRIPTOR = re.compile(rb"# (?:TYPE|HELP|UNIT) (\S+)")
_EOF = b"# EOF"


def load_kind_table(harness: Path) -> dict[str, list[str]]:
    """`GROUPS` of the peers' `breakdown.py`, imported in place (never copied)."""
    path = harness / "breakdown.py"
    spec = importlib.util.spec_from_file_location("peers_breakdown", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise NotFound(f"peers' breakdown script {path} not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {str(k): [str(n) for n in v] for k, v in module.GROUPS.items()}


def family_ranges(om: Path) -> list[tuple[int, int, str]]:
    """(start, end, first sample name) of every metric family of an OpenMetrics file."""
    starts: list[tuple[int, bytes]] = []
    with om.open("rb") as fh:
        offset, carry = 0, b""
        while block := fh.read(SCAN_BLOCK):
            data = carry + block
            base = offset - len(carry)
            last_nl = data.rfind(b"\n") + 1
            at = 0 if data.startswith(b"# ") else data.find(b"\n# ") + 1
            while at < last_nl and (at > 0 or data.startswith(b"# ")):
                m = _DESCRIPTOR.match(data, at)
                if m and (not starts or starts[-1][1] != m.group(1)):
                    starts.append((base + at, m.group(1)))
                nxt = data.find(b"\n# ", at + 1)
                if nxt < 0:
                    break
                at = nxt + 1
            carry, offset = data[last_nl:], offset + len(block)
        end = _data_end(fh, offset)
        bounds = [s for s, _ in starts] + [end]
        return [
            (a, b, _first_sample_name(fh, a, b)) for a, b in zip(bounds, bounds[1:], strict=False)
        ]


def _data_end(fh: BinaryIO, size: int) -> int:
    """Offset of the closing `# EOF` line, or the file size if there is none."""
    fh.seek(max(size - 64, 0))
    tail = fh.read()
    at = tail.rfind(b"\n" + _EOF)
    if at >= 0 and tail[at + 1 :].strip() == _EOF:
        return size - len(tail) + at + 1
    return size


def _first_sample_name(fh: BinaryIO, start: int, stop: int) -> str:
    """Name of the first sample line within 64 KiB of a family's start ('' if none)."""
    fh.seek(start)
    for line in fh.read(min(HEAD_BYTES, stop - start)).split(b"\n"):
        if line and not line.startswith(b"#"):
            return re.split(rb"[{\s]", line, maxsplit=1)[0].decode()
    return ""


def split(om: Path, out_dir: Path, table: KindTable) -> dict[str, Path]:
    """Write `<out_dir>/<kind>.om` per kind (an unknown name goes to `other`); kind -> file."""
    kind_of = {name: kind for kind, names in table.items() for name in names}
    ranges = family_ranges(om)
    if not ranges:
        raise InvalidInput(f"{om}: no metric family found (is it OpenMetrics?)")
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for start, stop, name in ranges:
        by_kind.setdefault(kind_of.get(name, OTHER), []).append((start, stop))
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    with om.open("rb") as src:
        for kind, spans in by_kind.items():
            files[kind] = out_dir / f"{kind}.om"
            with files[kind].open("wb") as dst:
                for start, stop in spans:
                    src.seek(start)
                    left = stop - start
                    while left > 0:
                        piece = src.read(min(COPY_BLOCK, left))
                        dst.write(piece)
                        left -= len(piece)
                dst.write(_EOF + b"\n")
    return files
