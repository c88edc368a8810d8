"""Heuristic quality filters (Gopher quality + repetition, C4, FineWeb), CJK-aware."""
