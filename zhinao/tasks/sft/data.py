"""The SFT data of a run: a chat dataset version's conversations, a held-out share (by id hash) for
the validation loss and the per-epoch evaluations, rendered with the model's chat template, packed,
and written where the training ranks read them (zhinao/model/packed.py)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from zhinao.model.packed import write_packed

from ..runtime.sampling import taken, unit_hash
from ..stats import StageStats
from .pack import Packed, Sample, pack
from .render import ChatRenderer, problem

log = logging.getLogger("zhinao.sft")

REQUIRED = ("id", "messages")
OPTIONAL = ("lang", "domain", "origin")
HELD_OUT_SALT = "sft/held-out"


def check_chat_schema(names: list[str], ref: str) -> None:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(f"{ref} has no {', '.join(f'`{c}`' for c in missing)} column(s): SFT reads a chat dataset "
                         f"(id, messages: role/content turns ending with an assistant turn); it has {names}")


def read_conversations(root, paths: list[str], ref: str) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            file = pq.ParquetFile(fh)
            names = file.schema_arrow.names
            check_chat_schema(names, ref)
            rows += file.read(columns=[c for c in REQUIRED + OPTIONAL if c in names]).to_pylist()
    if not rows:
        raise ValueError(f"{ref} has no rows: nothing to fine-tune on")
    return rows


def split_held_out(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held out) by a salted hash of the id; at least one of each when there are two rows
    and a share is asked for."""
    held = [r for r in rows if taken(str(r["id"]), seed, HELD_OUT_SALT, fraction)]
    if fraction > 0 and not held and len(rows) > 1:
        held = [min(rows, key=lambda r: unit_hash(str(r["id"]), seed, HELD_OUT_SALT))]
    if len(held) == len(rows) and len(rows) > 1:
        held = held[:-1]
    ids = {r["id"] for r in held}
    return [r for r in rows if r["id"] not in ids], held


def encode(rows: list[dict], renderer: ChatRenderer, stats: StageStats, desc: str) -> tuple[list[Sample], list[dict]]:
    """Samples of the trainable rows (with those rows); the others counted as drops by reason."""
    samples, kept = [], []
    for r in tqdm(rows, desc=f"sft: render {desc}", unit="chat", leave=False):
        messages = [dict(m) for m in (r["messages"] or [])]
        reason = problem(messages)
        if reason:
            stats.drop(reason)
            continue
        ids, trained = renderer.encode(messages)
        samples.append(Sample(ids, trained))
        kept.append(r)
    return samples, kept


def prepare(rows: list[dict], renderer: ChatRenderer, p: Any, folder: Path,
            stats: StageStats) -> tuple[Packed, Packed, list[dict]]:
    """Write the packed train and held-out rows to `folder`; (train, valid, held-out documents)."""
    train_rows, held_rows = split_held_out(rows, p.valid_fraction, p.seed)
    train_samples, _ = encode(train_rows, renderer, stats, "train")
    valid_samples, valid_kept = encode(held_rows, renderer, stats, "held-out")
    train = pack(train_samples, p.max_len, p.packing, renderer.pad_id, p.seed, p.overlong)
    valid = pack(valid_samples, p.max_len, p.packing, renderer.pad_id, p.seed, p.overlong)
    for part in (train, valid):
        for reason, n in part.dropped.items():
            stats.drop(reason, n)
    if not train.rows:
        raise ValueError(f"no trainable samples among {len(train_rows)} training rows (dropped: "
                         f"{dict(stats.dropped) or 'none'}): every conversation needs a user turn and must end "
                         f"with an assistant turn whose tokens fit max_len {p.max_len}")
    stats.count("samples_in", len(rows))
    stats.count("samples_train", train.samples)
    stats.count("samples_held_out", valid.samples)
    stats.count("truncated_to_max_len", train.truncated + valid.truncated)
    table = [{"split": name, "packing": p.packing, **part.stats()} for name, part in (("train", train), ("valid", valid))]
    stats.table("packing", table)
    write_packed(folder, {"train": train.training_arrays(), "valid": valid.training_arrays()},
                 {"mode": p.packing, "max_len": p.max_len, "pad_id": renderer.pad_id, "stats": table})
    log.info("sft data: %d training samples in %d rows of %d tokens (%s packing, %.1f%% non-padding), "
             "%d held out; dropped %s", train.samples, train.rows, p.max_len, p.packing,
             100 * table[0]["non_padding_share"], valid.samples, dict(stats.dropped) or "none")
    docs = [{"id": str(r["id"]), "text": renderer.text(r["messages"]), "lang": r.get("lang"),
             "topic": r.get("domain"), "source": "sft-held-out"} for r in valid_kept]
    return train, valid, docs
