"""Mean scores of scored items: per (length, depth) cell, per language, per variant, overall."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable


def mean_by(results: Iterable[dict], keys: tuple[str, ...]) -> list[dict]:
    """One row per distinct value of `keys`: the keys, n, mean score, found rate; sorted by keys."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        groups[tuple(r[k] for k in keys)].append(r)
    return [dict(zip(keys, key)) | {"n": len(rows), "score": sum(r["score"] for r in rows) / len(rows),
                                    "found": sum(bool(r["found"]) for r in rows) / len(rows)}
            for key, rows in sorted(groups.items())]


def summarize(results: list[dict]) -> dict:
    """{overall, cells (length x depth), by_lang, by_variant, by_lang_variant}: rows of mean_by."""
    return {"overall": mean_by(results, ())[0] if results else {"n": 0, "score": 0.0, "found": 0.0},
            "cells": mean_by(results, ("length", "depth")),
            "by_lang": mean_by(results, ("lang",)),
            "by_variant": mean_by(results, ("variant",)),
            "by_lang_variant": mean_by(results, ("lang", "variant"))}


def grid(results: list[dict]) -> tuple[list[float], list[int], list[list[float | None]]]:
    """(depths, lengths, matrix[depth][length] of mean scores, None where a cell is empty)."""
    cells = {(r["depth"], r["length"]): r["score"] for r in mean_by(results, ("depth", "length"))}
    depths = sorted({d for d, _ in cells})
    lengths = sorted({n for _, n in cells})
    return depths, lengths, [[cells.get((d, n)) for n in lengths] for d in depths]
