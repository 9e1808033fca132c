"""Optional embeddings from a locally installed sentence-transformers model (never downloaded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from openmanager.errors import ConfigError


class LocalEmbedder:
    """A sentence-transformers model loaded from a local folder, offline."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise ConfigError(f"knowledge.embedding_model: {path} is not a local model folder")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "knowledge.embedding_model needs the sentence-transformers package "
                "(pip install sentence-transformers); unset it to use BM25 only"
            ) from exc
        self._model = SentenceTransformer(str(path), local_files_only=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        vecs = self._model.encode(list(texts), normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32)
