"""Crawl ingestion: WARC / WET / JSONL / Parquet sources -> documents (DESIGN.md schema)."""
