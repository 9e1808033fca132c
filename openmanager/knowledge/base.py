"""The knowledge base: collects the configured sources on the scheduler and swaps in a new index."""

from __future__ import annotations

import logging
import threading
import time

from openmanager.config.settings import KnowledgeSettings
from openmanager.knowledge.embeddings import LocalEmbedder
from openmanager.knowledge.index import Embedder, Hit, PassageIndex
from openmanager.knowledge.passages import split_document
from openmanager.knowledge.sources import collect

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Searchable passages of every source; `refresh` rebuilds the index from scratch."""

    def __init__(self, settings: KnowledgeSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        if embedder is None and settings.embedding_model is not None:
            embedder = LocalEmbedder(settings.embedding_model)
        self._embedder = embedder
        self._index = PassageIndex([])
        self._lock = threading.Lock()
        self.refreshed_at = 0.0
        self.documents = 0

    def refresh(self) -> int:
        """Collect all sources, split and index them; returns the number of passages."""
        docs = collect(self.settings)
        passages = [p for d in docs for p in split_document(d.text, d.source, d.title)]
        index = PassageIndex(passages, self._embedder)
        with self._lock:
            self._index = index
            self.documents = len(docs)
            self.refreshed_at = time.time()
        log.info("knowledge: %d passages from %d documents", len(passages), len(docs))
        return len(passages)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """Best passages for a query (indexing on first use if never refreshed)."""
        if not self.refreshed_at:
            self.refresh()
        with self._lock:
            index = self._index
        return index.search(query, k)
