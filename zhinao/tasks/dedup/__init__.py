"""Deduplication: exact (normalized text hash), MinHash LSH, semantic (embeddings)."""
