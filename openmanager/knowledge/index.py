"""Retrieval over passages: BM25 (bm25s), optionally fused with embeddings from a local model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import bm25s
import numpy as np

from openmanager.knowledge.passages import Passage

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
RRF_K = 60
"""Reciprocal-rank-fusion constant (the usual 60)."""


class Embedder(Protocol):
    """Turns texts into unit vectors (a locally installed model)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and its score (BM25, or fused rank score with embeddings)."""

    passage: Passage
    score: float


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; `node_filesystem_avail_bytes` also yields its parts."""
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        out.append(tok)
        if "_" in tok:
            out += [p for p in tok.split("_") if len(p) > 1]
    return out


class PassageIndex:
    """An immutable index over a list of passages."""

    def __init__(self, passages: Sequence[Passage], embedder: Embedder | None = None) -> None:
        self.passages = list(passages)
        self._bm25 = bm25s.BM25()
        self._vocab: set[str] = set()
        docs = [tokens(f"{p.title}\n{p.text}") for p in self.passages]
        for d in docs:
            self._vocab.update(d)
        if self.passages:
            self._bm25.index(docs, show_progress=False)
        self._embedder = embedder
        self._vectors = (
            embedder.embed([f"{p.title}\n{p.text}" for p in self.passages])
            if embedder is not None and self.passages
            else None
        )

    def __len__(self) -> int:
        return len(self.passages)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The best `k` passages for `query` (none when nothing matches a single word)."""
        k = min(k, len(self.passages))
        q = [t for t in tokens(query) if t in self._vocab]
        if k <= 0 or not q:
            return []
        docs, scores = self._bm25.retrieve([q], k=len(self.passages), show_progress=False)
        ranked = [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        if self._vectors is None or self._embedder is None:
            return [Hit(self.passages[d], s) for d, s in ranked[:k]]
        qv = self._embedder.embed([query])[0]
        by_vec = np.argsort(-(self._vectors @ qv))
        fused: dict[int, float] = {}
        for rank, (d, _) in enumerate(ranked):
            fused[d] = fused.get(d, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, d in enumerate(by_vec.tolist()):
            fused[d] = fused.get(d, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [Hit(self.passages[d], s) for d, s in best]
