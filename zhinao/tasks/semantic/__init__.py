"""Semantic dedup (SemDeDup): sentence embeddings, k-means clusters, near-identical meaning removed."""
