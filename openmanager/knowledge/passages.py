"""Passages: documents split at headings and paragraphs, each keeping where it came from."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

MAX_CHARS = 1200
"""A passage grows paragraph by paragraph up to about this size (one idea, quotable whole)."""

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Passage:
    """A retrievable piece of a document: its text, the document's source and the section title."""

    source: str
    title: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API."""
        return asdict(self)

    def quote(self, limit: int = 240) -> str:
        """The passage's text on one line, cut at a word boundary near `limit` characters."""
        flat = " ".join(self.text.split())
        if len(flat) <= limit:
            return flat
        return flat[:limit].rsplit(" ", 1)[0] + " …"


def split_document(text: str, source: str, title: str = "") -> list[Passage]:
    """Split Markdown or plain text at headings, then into paragraph groups of at most MAX_CHARS.

    Each passage's title is the heading path it sits under (`Disk full > Diagnose`), so a hit
    says which part of which document it is.
    """
    out: list[Passage] = []
    path: list[str] = [title] if title else []
    base_depth = len(path)
    paragraphs: list[str] = []

    def flush() -> None:
        buf = ""
        for para in paragraphs:
            if buf and len(buf) + len(para) + 2 > MAX_CHARS:
                out.append(Passage(source, " > ".join(path), buf))
                buf = ""
            buf = f"{buf}\n\n{para}" if buf else para
        if buf:
            out.append(Passage(source, " > ".join(path), buf))
        paragraphs.clear()

    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        if not lines[0]:
            continue
        m = _HEADING.match(lines[0])
        if m is None:
            paragraphs.append("\n".join(lines))
            continue
        flush()
        depth = base_depth + len(m.group(1)) - 1
        del path[depth:]
        path.append(m.group(2))
        if len(lines) > 1:
            paragraphs.append("\n".join(lines[1:]))
    flush()
    return out
