"""Preference pairs as token ids for reward-model training: tokenized once by the stage (so every
rank reads the same ids and the run knows its size before it starts), held out by a hash of the
pair id, and served in batches that are a function of the step number (a resumed run sees the data
order of an uninterrupted one).

Each side is the text the reward model scores at inference (scorer.chat_text: the chat template's
user and assistant turns). A pair longer than `max_length` tokens is dropped, not truncated: the
difference between chosen and rejected is often at the end (the final answer, a postscript).
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..runtime.sampling import taken
from .scorer import as_chat, chat_text

REQUIRED = ("id", "prompt", "chosen", "rejected")
OPTIONAL = ("category", "lang", "origin")
VALID_SALT = "reward-model/validation"
SCHEMA = pa.schema([("id", pa.string()), ("category", pa.string()), ("lang", pa.string()), ("origin", pa.string()),
                    ("chosen_ids", pa.list_(pa.int32())), ("rejected_ids", pa.list_(pa.int32())),
                    ("valid", pa.bool_())])


def load_tokenizer(path: str | Path):
    """The base model's tokenizer with a pad token (its EOS when it has none: the score head reads
    the last non-pad token, so padding must be told apart from text)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ValueError(f"the tokenizer of {path} has neither a pad nor an EOS token to pad batches with")
        tok.pad_token = tok.eos_token
    return tok


def missing_columns(names: list[str]) -> list[str]:
    return [c for c in REQUIRED if c not in names]


def prepare(root, paths: list[str], model: str, max_length: int, valid_fraction: float, seed: int,
            out: Path) -> dict[str, Any]:
    """Tokenize the pairs of `paths` (Parquet shards under `root`) into `out`; their counts."""
    tok = load_tokenizer(model)
    special = not tok.chat_template
    dropped: Counter[str] = Counter()
    tables, longest, total = [], 0, 0
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            t = pq.read_table(fh)
        lacking = missing_columns(t.column_names)
        if lacking:
            raise ValueError(f"preference pairs {path} lack the column(s) {lacking}")
        rows = t.to_pylist()
        texts = [chat_text(tok, as_chat(r["prompt"] or "", side or "")) for r in rows for side in (r["chosen"], r["rejected"])]
        ids = tok(texts, add_special_tokens=special)["input_ids"] if texts else []
        kept = {k: [] for k in SCHEMA.names}
        for i, r in enumerate(rows):
            chosen, rejected = ids[2 * i], ids[2 * i + 1]
            if chosen == rejected:
                dropped["identical_pair"] += 1
                continue
            if max(len(chosen), len(rejected)) > max_length:
                dropped["too_long"] += 1
                continue
            longest, total = max(longest, len(chosen), len(rejected)), total + len(chosen) + len(rejected)
            for c in OPTIONAL:
                kept[c].append(str(r.get(c) or "(none)"))
            kept["id"].append(r["id"])
            kept["chosen_ids"].append(chosen)
            kept["rejected_ids"].append(rejected)
            kept["valid"].append(taken(str(r["id"]), seed, VALID_SALT, valid_fraction))
        tables.append(pa.table(kept, schema=SCHEMA))
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    valid = sum(table["valid"].to_pylist())
    return {"pairs": table.num_rows, "train": table.num_rows - valid, "valid": valid, "dropped": dict(dropped),
            "max_tokens": longest, "mean_tokens": total / (2 * table.num_rows) if table.num_rows else 0.0,
            "pad_token_id": tok.pad_token_id}


class PairSet:
    """The tokenized pairs of one run: training batches by step, validation pairs in order."""

    def __init__(self, path: str | Path, seed: int):
        table = pq.read_table(path)
        self.rows = table.to_pylist()
        self.train = [i for i, r in enumerate(self.rows) if not r["valid"]]
        self.valid = [i for i, r in enumerate(self.rows) if r["valid"]]
        self.seed = seed
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            order = list(self.train)
            random.Random(f"{self.seed}:{epoch}").shuffle(order)
            self._orders = {epoch: order}         # batches move forward: keep one epoch's order
        return self._orders[epoch]

    def batch(self, index: int, size: int, rank: int = 0, world: int = 1) -> list[dict]:
        """Micro-batch `index` (step * grad_accum + micro) of `rank`: `size` training pairs, the
        global batches walking through one shuffled epoch after another."""
        n = len(self.train)
        start = (index * world + rank) * size
        return [self.rows[self._order(p // n)[p % n]] for p in range(start, start + size)]


def collate(sequences: list[list[int]], pad_id: int):
    """Right-padded input ids and attention mask (the score head finds the last non-pad token)."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask
