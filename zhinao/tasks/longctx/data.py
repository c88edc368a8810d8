"""A phase's data: long-data's rows, a held-out share (by id hash) for the held-out loss, encoded
for the phase's length (samples.py), packed (SFT's packing, naive or document-masked; either way each
sample's positions start at 0, and a whole-row piece of a long document has a row to itself) and
written where the ranks read them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from zhinao.model.packed import write_packed

from ..sft.data import split_held_out
from ..sft.pack import Packed, Sample, pack
from ..sft.render import ChatRenderer
from .samples import encode_rows

COLUMNS = ("id", "kind", "text", "messages", "lang")


def read_rows(root, paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            rows += pq.read_table(fh, columns=list(COLUMNS)).to_pylist()
    return rows


def pack_long(samples: list[Sample], max_len: int, mode: str, pad_id: int, seed: int, overlong: str) -> Packed:
    """SFT's packing with every sample's positions starting at 0; under naive packing a sample of a
    whole row (a full piece of a long document) gets a row of its own, so its context is never cut
    by a row boundary, and only the others are concatenated."""
    whole = [s for s in samples if len(s.ids) == max_len] if mode == "naive" else []
    rest = [s for s in samples if len(s.ids) != max_len] if whole else samples
    packed = pack(rest, max_len, mode, pad_id, seed, overlong, reset_positions=True)
    if not whole:
        return packed
    rows = {"tokens": np.stack([s.ids for s in whole]), "targets": np.stack([s.targets() for s in whole]),
            "real": np.ones((len(whole), max_len), dtype=bool),
            "positions": np.tile(np.arange(max_len, dtype=np.int32), (len(whole), 1))}
    arrays = {k: np.concatenate([rows[k], v.astype(rows[k].dtype)]) for k, v in packed.arrays.items()}
    return Packed(arrays, packed.dropped, packed.truncated, packed.samples + len(whole))


def prepare_long(split: dict[str, Any], renderer: ChatRenderer, p: Any, folder: Path, stats) -> tuple:
    rows = read_rows(split["root"], split["paths"])
    train_rows, held_rows = split_held_out(rows, p.valid_fraction, p.seed)
    packed = {}
    for name, part in (("train", train_rows), ("valid", held_rows)):
        samples = encode_rows(part, renderer, p.max_len, p.long_loss, stats)
        packed[name] = pack_long(samples, p.max_len, p.packing, renderer.pad_id, p.seed, p.overlong)
        for reason, n in packed[name].dropped.items():
            stats.drop(reason, n)
    train, valid = packed["train"], packed["valid"]
    if not train.rows:
        raise ValueError(f"{split['data_ref']}: no trainable samples among {len(train_rows)} rows "
                         f"(dropped: {dict(stats.dropped) or 'none'})")
    table = [{"split": n, "packing": p.packing, **part.stats()} for n, part in packed.items()]
    stats.table("packing", table)
    stats.count("rows_in", len(rows))
    stats.count("samples_train", train.samples)
    stats.count("samples_held_out", valid.samples)
    write_packed(folder, {"train": train.training_arrays(), "valid": valid.training_arrays()},
                 {"mode": p.packing, "max_len": p.max_len, "pad_id": renderer.pad_id, "stats": table})
    docs = [{"id": str(r["id"]), "text": r["text"] if r["kind"] == "long" else renderer.text(r["messages"]),
             "lang": r.get("lang"), "topic": None, "source": "long-held-out"} for r in held_rows]
    return train, valid, docs
