"""Perplexity and bits per byte on held-out text, by group (language, topic, source).

Bits per byte = total negative log-likelihood in nats / (total UTF-8 bytes x ln 2): it does not
depend on the tokenizer, so models with different vocabularies compare (lm-eval's `bits_per_byte`).
Token perplexity is reported beside it for models that share a tokenizer."""
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
        out.append({**{k: v for k, v in rows[i].items() if k != "text"}, "tokens": len(lp),
                    "bytes": len(texts[i].encode("utf-8")), "nll": -sum(lp)})
    return out


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
