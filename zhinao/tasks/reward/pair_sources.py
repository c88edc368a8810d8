"""preference-data process: one split per source (generated math pairs, instruction-following
pairs, judge-ranked pairs, or one user file), each writing preference rows and counting the rows
it refused by reason."""
from __future__ import annotations

from typing import Any, Iterator

from ..runtime.sink import RowBatcher, ShardSink
from ..stats import StageStats
from .pairs import AUDIT_SCHEMA, SCHEMA
from .pairs_files import file_pairs
from .pairs_ifeval import ifeval_pairs
from .pairs_judge import judge_pairs
from .pairs_math import math_pairs

GENERATED = ("math", "ifeval", "judge")


def _rows(split: dict[str, Any], p: Any) -> Iterator[tuple[dict, str | None]]:
    kind = split["kind"]
    if kind == "math":
        return math_pairs(p.math_pairs, p.langs, p.seed, p.math_corruptions)
    if kind == "ifeval":
        return ifeval_pairs(p.ifeval_pairs, p.langs, p.seed, p.max_constraints, p.max_response_chars,
                            p.instructions or None)
    if kind == "judge":
        return judge_pairs(split["root"], split["paths"], p.judge_pairs, p.judge_min_gap)
    if kind == "file":
        return file_pairs(split["uri"])
    raise ValueError(f"unknown preference source kind {kind!r}")


def make_pairs(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    out = RowBatcher(sink, SCHEMA, AUDIT_SCHEMA, params.shard_rows)
    seen: set[str] = set()
    for row, reason in _rows(split, params):
        stats.count("rows_in")
        if reason is None and row["id"] in seen:
            reason = "duplicate_pair"
        if reason is not None:
            stats.drop(reason)
            out.drop(row, reason)
            continue
        seen.add(row["id"])
        stats.count("rows_out")
        stats.observe("category", row["category"])
        stats.observe("lang", row["lang"])
        stats.observe("origin", row["origin"])
        out.keep(row)
    out.flush()
