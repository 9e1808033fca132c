"""The operator assistant: resolve a question, gather evidence through the query engine, narrate it."""
