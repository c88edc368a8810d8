"""HTML -> main text: real extractors (trafilatura, resiliparse) and a per-page choice between them."""
