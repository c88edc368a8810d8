"""Judge-ranked preference pairs from the `judge` dataset: among the items synthesised from one
source document as one kind (math, code, instruction), the response the judge scored best is
preferred over the one it scored worst, when their `judge_mean` differ by at least `min_gap`.

The prompt is the better item's. Items of one source are requests about the same text, so the
rejected response is a worse-judged answer to a sibling request: the pair teaches the judge's
ranking of quality and relevance, which is how rm-filter then ranks items of one category.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterator

import pyarrow.parquet as pq

from .pairs import pair

COLUMNS = ("id", "kind", "prompt", "response", "synth_from", "judge_mean", "lang")


def judge_pairs(root, paths: list[str], limit: int, min_gap: float) -> Iterator[tuple[dict, str | None]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            table = pq.read_table(fh)
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise ValueError(f"judge items need the columns {list(COLUMNS)}; {path} lacks {missing}")
        for row in table.select(list(COLUMNS)).to_pylist():
            if row["judge_mean"] is None or not (row["prompt"] or "").strip() or not (row["response"] or "").strip():
                yield {"origin": "judge"}, "judge_unscored"
                continue
            groups[(row["kind"], row["synth_from"] or row["id"])].append(row)
    made = 0
    for key in sorted(groups, key=str):
        items = sorted(groups[key], key=lambda r: (-r["judge_mean"], r["id"]))
        if len(items) < 2:
            continue
        best, worst = items[0], items[-1]
        if best["judge_mean"] - worst["judge_mean"] < min_gap:
            yield {"origin": "judge"}, "judge_gap_too_small"
            continue
        if made >= limit:
            break
        made += 1
        yield pair(best["prompt"], best["response"], worst["response"], "judge", best["lang"] or "en", "judge"), None
