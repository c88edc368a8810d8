"""The context a model can take, and the grid's lengths that fit it: a prompt longer than the
model's positions would be cut or refused by the backend, so those lengths are skipped (and
counted), not run."""
from __future__ import annotations

from pathlib import Path

UNSET = 10 ** 12        # transformers' "no limit" model_max_length is ~1e30


def context_limit(model_path: str | Path, tokenizer=None, serving: int | None = None) -> tuple[int | None, str]:
    """(most tokens the model takes, where that figure comes from): the config's
    max_position_embeddings, or the tokenizer's model_max_length or a server's max_model_len
    (`serving`) where smaller; (None, "") when none of them says."""
    from transformers import AutoConfig

    limits = []
    config = AutoConfig.from_pretrained(str(model_path))
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append((int(positions), "max_position_embeddings"))
    tok_max = getattr(tokenizer, "model_max_length", None)
    if tok_max and tok_max < UNSET:
        limits.append((int(tok_max), "tokenizer model_max_length"))
    if serving:
        limits.append((int(serving), "the server's max_model_len"))
    return min(limits) if limits else (None, "")


def fitting_lengths(lengths: list[int], limit: int | None) -> tuple[list[int], list[int]]:
    """(lengths within `limit`, lengths over it), each in the given order."""
    if limit is None:
        return list(lengths), []
    return [n for n in lengths if n <= limit], [n for n in lengths if n > limit]
