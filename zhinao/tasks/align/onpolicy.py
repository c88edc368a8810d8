"""On-policy preference pairs (360Zhinao2's iterative DPO): the policy samples n answers per
prompt through the generator interface, the reward model scores each, and the highest and lowest
scored answers are the pair; a pair whose margin is under the threshold carries little signal and
is dropped (counted), as are prompts with fewer than two usable answers or one answer n times."""
from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from ..generate.api import Request
from ..generate.engine import request_seed
from ..generate.service import get_generator
from ..reward.pairs import SCHEMA as PAIRS, pair
from ..reward.scorer import scorer
from .run import read_rows

SCHEMA = PAIRS.append(pa.field("chosen_score", pa.float64())).append(pa.field("rejected_score", pa.float64())) \
    .append(pa.field("margin", pa.float64())).append(pa.field("answers", pa.int64()))
AUDIT_SCHEMA = SCHEMA.append(pa.field("drop_reason", pa.string()))


def prompts(root, paths: list[str], limit: int) -> list[dict[str, Any]]:
    """Each distinct prompt once (its first row's category, lang and verify), in a fixed order
    (by a hash of the prompt), at most `limit` (0: all)."""
    seen: dict[str, dict] = {}
    for r in read_rows(root, paths, ["prompt", "category", "lang", "verify"]):
        p = (r["prompt"] or "").strip()
        if p and p not in seen:
            seen[p] = r | {"key": hashlib.sha256(p.encode()).hexdigest()[:16]}
    rows = sorted(seen.values(), key=lambda r: r["key"])
    return rows[:limit] if limit else rows


def best_and_worst(row: dict, answers: list[str], scores: list[float], min_margin: float,
                   origin: str) -> tuple[dict, str | None]:
    """The pair (highest over lowest scored answer) and None, or the row with why it is dropped."""
    top = max(range(len(answers)), key=lambda i: (scores[i], -i))
    low = min(range(len(answers)), key=lambda i: (scores[i], i))
    out = pair(row["prompt"], answers[top], answers[low], row.get("category") or "onpolicy", row.get("lang") or "",
               origin) | {"verify": row.get("verify") or "", "chosen_score": scores[top],
                          "rejected_score": scores[low], "margin": scores[top] - scores[low],
                          "answers": len(answers)}
    if answers[top].strip() == answers[low].strip():
        return out, "identical_answers"
    if out["margin"] < min_margin:
        return out, "margin_below_threshold"
    return out, None


class OnPolicyPairs:
    """The process: split = {root, paths, spec (the generator), rm_path, origin, limit}."""

    def __call__(self, split: dict, params: Any, sink, stats) -> None:
        rows = prompts(split["root"], split["paths"], split["limit"])
        gen = get_generator(split["spec"])
        rm = scorer(split["rm_path"], params.device, params.rm_max_length)
        kept, dropped = [], []
        for start in range(0, len(rows), params.batch_size):
            batch = rows[start:start + params.batch_size]
            requests = [Request.chat(r["prompt"], max_tokens=params.max_tokens, temperature=params.temperature,
                                     top_p=params.top_p, seed=request_seed(params.seed, r["key"], k))
                        for r in batch for k in range(params.n)]
            done = gen.generate(requests)
            stats.count("rows_in", len(batch))
            stats.count("answers", len(done))
            for j, r in enumerate(batch):
                mine = [c for c in done[j * params.n:(j + 1) * params.n] if c.finish_reason != "error" and c.text.strip()]
                if len(mine) < 2:
                    stats.drop("fewer_than_two_answers")
                    continue
                texts = [c.text for c in mine]
                scores = rm.score([r["prompt"]] * len(texts), texts, batch_size=params.rm_batch_size)
                made, reason = best_and_worst(r, texts, scores, params.min_margin, split["origin"])
                if reason:
                    stats.drop(reason)
                    dropped.append(made | {"drop_reason": reason})
                else:
                    kept.append(made)
        stats.count("rows_out", len(kept))
        if kept:
            sink.write(pa.Table.from_pylist(kept, schema=SCHEMA))
        if dropped:
            sink.drop(pa.Table.from_pylist(dropped, schema=AUDIT_SCHEMA))
