"""Perplexity and bits per byte on held-out text, by group (language, topic, source).

Bits per byte = total negative log-likelihood in nats / (total UTF-8 bytes x ln 2): it does not
depend on the tokenizer, so models with different vocabularies compare (lm-eval's `bits_per_byte`).
Token perplexity is reported beside it for models that share a tokenizer.

By position: each token's loss grouped by how many tokens of its document it was predicted from
(0-63, 64-127, 128-255, ... doubling to the model's window): a model that uses its long context has
a lower loss in the late buckets than in the first."""
from __future__ import annotations

import math
from typing import Any, Iterable

from .scoring import LoglikScorer


def score_documents(rows: list[dict[str, Any]], model: LoglikScorer, batch_size: int = 8,
                    max_chars: int | None = None) -> list[dict[str, Any]]:
    """Per document: tokens, bytes, nll (nats). `max_chars` cuts long documents (at a character, so
    bytes and tokens describe the same text)."""
    texts = [(r["text"] or "")[:max_chars] if max_chars else (r["text"] or "") for r in rows]
    keep = [i for i, t in enumerate(texts) if t.strip()]
    ids = [model.encode(texts[i]) for i in keep]
    lps = model.rolling_logprobs(ids, batch_size=batch_size, desc="perplexity")
    out = []
    for i, lp in zip(keep, lps):
        by_position: dict[int, list[float]] = {}
        for seen, logprob in zip(context_lengths(len(lp), model.max_length), lp):
            bucket = by_position.setdefault(position_bucket(seen), [0, 0.0])
            bucket[0] += 1
            bucket[1] -= logprob
        out.append({**{k: v for k, v in rows[i].items() if k != "text"}, "tokens": len(lp),
                    "bytes": len(texts[i].encode("utf-8")), "nll": -sum(lp), "by_position": by_position})
    return out


FIRST_BUCKET = 64


def context_lengths(n_tokens: int, window: int) -> list[int]:
    """For each of a document's tokens, how many of its tokens it was predicted from under
    rolling_logprobs' windows (the first window from the start; each later one from the text before it
    that fills the window)."""
    out: list[int] = []
    for start in range(0, n_tokens, window):
        end = min(start + window, n_tokens)
        before = 0 if start == 0 else start - max(end - window - 1, 0)
        out += range(before, before + end - start)
    return out


def position_bucket(seen: int) -> int:
    """The bucket's first position: 0 below 64, then powers of two (64, 128, 256, ...)."""
    return 0 if seen < FIRST_BUCKET else 1 << (seen.bit_length() - 1)


def by_position(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tokens, loss per token (nats) and token perplexity per position bucket, over all documents."""
    sums: dict[int, list[float]] = {}
    for d in docs:
        for start, (tokens, nll) in d.get("by_position", {}).items():
            total = sums.setdefault(int(start), [0, 0.0])
            total[0] += tokens
            total[1] += nll
    rows = []
    for start in sorted(sums):
        tokens, nll = sums[start]
        end = FIRST_BUCKET if start == 0 else 2 * start
        rows.append({"positions": f"{start}-{end - 1}", "tokens": int(tokens), "nll_per_token": nll / tokens,
                     "token_perplexity": math.exp(nll / tokens)})
    return rows


def aggregate(docs: Iterable[dict[str, Any]], by: tuple[str, ...] = ("lang", "topic", "source")) -> list[dict[str, Any]]:
    """One row overall, then one per value of each `by` column: documents, tokens, bytes,
    bits_per_byte and token perplexity."""
    docs = list(docs)
    groups: dict[tuple[str, str], list[dict]] = {("all", "all"): docs}
    for col in by:
        for d in docs:
            if col in d and d[col] is not None:
                groups.setdefault((col, str(d[col])), []).append(d)
    rows = []
    for (col, value), members in groups.items():
        nll, nbytes, ntok = (sum(d[k] for d in members) for k in ("nll", "bytes", "tokens"))
        rows.append({"by": col, "value": value, "documents": len(members), "tokens": ntok, "bytes": nbytes,
                     "bits_per_byte": nll / (nbytes * math.log(2)) if nbytes else float("nan"),
                     "token_perplexity": math.exp(nll / ntok) if ntok else float("nan")})
    return rows
