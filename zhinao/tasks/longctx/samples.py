"""long-data's rows as training samples for one phase's length.

A long document is trained with the pretraining loss on every token (`long_loss=all`, what the
360Zhinao report found works much better) and cut into pieces of max_len tokens overlapping by one,
each a sample of its own, so no target is lost to truncation; or (`assistant`) as a conversation whose user turn
is the document and whose assistant turn is its last passage, loss on that passage only, the
document's start cut when it does not fit. Chat rows go through the chat template as in SFT."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..sft.pack import Sample
from ..sft.render import ChatRenderer, problem

CONTINUE = "Continue the text."


def last_passage(text: str, share: float = 0.125) -> tuple[str, str]:
    """(body, ending): the ending is the text after the last paragraph break in its last `share`,
    else after the last space there, else the last `share` of characters."""
    start = int(len(text) * (1 - share))
    for mark in ("\n\n", "\n", " "):
        cut = text.rfind(mark, start)
        if cut > 0:
            return text[:cut].rstrip(), text[cut:].strip()
    return text[:start], text[start:]


def long_samples(text: str, renderer: ChatRenderer, max_len: int, loss: str) -> list[Sample]:
    if loss == "all":
        ids = np.asarray(renderer.tok(text, add_special_tokens=False)["input_ids"]
                         + [renderer.tok.eos_token_id], dtype=np.int32)
        # pieces overlap by one token: a piece's last token, which predicts nothing in it, is the next
        # piece's first, so every next-token target is trained exactly once
        return [Sample(ids[k:k + max_len], np.ones(len(ids[k:k + max_len]), dtype=bool))
                for k in range(0, len(ids) - 1, max_len - 1)]
    if loss != "assistant":
        raise ValueError(f"long_loss {loss!r}: all or assistant")
    body, ending = last_passage(text)
    ids, trained = renderer.encode([{"role": "user", "content": f"{body}\n\n{CONTINUE}"},
                                    {"role": "assistant", "content": ending}])
    return [Sample(ids[-max_len:], trained[-max_len:])]       # the answer kept, the document's start cut


def encode_rows(rows: list[dict[str, Any]], renderer: ChatRenderer, max_len: int, loss: str,
                stats) -> list[Sample]:
    samples = []
    for r in rows:
        if r.get("kind") == "long":
            if not (r.get("text") or "").strip():
                stats.drop("empty_long_text")
                continue
            pieces = long_samples(r["text"], renderer, max_len, loss)
            stats.count("long_pieces", len(pieces))
            samples += pieces
        elif r.get("kind") == "chat":
            messages = [dict(m) for m in (r.get("messages") or [])]
            reason = problem(messages)
            if reason:
                stats.drop(reason)
                continue
            samples.append(Sample(*renderer.encode(messages)))
        else:
            stats.drop("unknown_kind")
    return samples
