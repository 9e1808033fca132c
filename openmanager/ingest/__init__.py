"""Ingestion: sources and wire formats turned into sample batches."""
