"""Knowledge the assistant retrieves from: runbooks and documents split into passages, BM25-indexed."""
