"""Packing documents into token shards: each document's tokens followed by EOS, concatenated.

A shard is `<name>.bin` (little-endian uint32 token ids, np.memmap-able) and `<name>.idx` (int64
offsets where each document starts, plus the end), so readers can cut training windows from the
stream or find document boundaries. Optional weights re-sample documents by column values
(`{"mix_source": {"web": 0.5}}`): a weight w gives floor(w) copies plus one more with probability
frac(w), decided by a salted hash of the id (the same documents on every run)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..runtime.sampling import taken

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("tokenizers",)}

DTYPE = np.uint32


@lru_cache(maxsize=2)
def load_tokenizer(folder: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def copies(row: dict, weights: dict[str, dict[str, float]], seed: int) -> int:
    w = 1.0
    for column, by_value in weights.items():
        w *= by_value.get(str(row.get(column)), 1.0)
    whole = int(w)
    return whole + int(taken(str(row["id"]), seed, "tokenize", w - whole))


def write_tokens(folder: Path, name: str, tokens: np.ndarray, starts: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    tokens.astype("<u4").tofile(folder / f"{name}.bin")
    starts.astype("<i8").tofile(folder / f"{name}.idx")
    return [folder / f"{name}.bin", folder / f"{name}.idx"]


def write_document_index(folder: Path, name: str, ids: list[str], starts: np.ndarray) -> Path:
    """`<name>.docs.parquet`: which document each token range of `<name>.bin` is (id, start, end),
    so `zhinao trace` finds a document's tokens without re-tokenizing."""
    path = folder / f"{name}.docs.parquet"
    pq.write_table(pa.table({"id": pa.array(ids, pa.string()), "start": pa.array(starts[:-1], pa.int64()),
                             "end": pa.array(starts[1:], pa.int64())}), path, compression="zstd")
    return path


def read_tokens(folder: Path, name: str) -> tuple[np.memmap, np.ndarray]:
    return (np.memmap(folder / f"{name}.bin", dtype="<u4", mode="r"),
            np.fromfile(folder / f"{name}.idx", dtype="<i8"))


def eos_id(tok, token: str, tokenizer_folder: str) -> int:
    """The id of the document separator, or an error naming the tokenizer that lacks it."""
    eos = tok.token_to_id(token)
    if eos is None:
        raise ValueError(f"tokenizer {tokenizer_folder} has no {token!r} token")
    return eos


def pack_shard(root, path: str, tokenizer_folder: str, params: Any, stats) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One mixture shard -> (tokens, document starts, the id of each packed document)."""
    tok = load_tokenizer(tokenizer_folder)
    eos = eos_id(tok, params.eos_token, tokenizer_folder)
    columns = sorted({"id", "text"} | set(params.weights))
    with root.fs.open_input_file(path) as fh:
        rows = pq.read_table(fh, columns=columns).to_pylist()
    texts, ids = [], []
    for r in rows:
        n = copies(r, params.weights, params.seed) if params.weights else 1
        texts += [r["text"] or ""] * n
        ids += [r["id"]] * n
        stats.count("docs_in")
        stats.count("docs_out", n)
    tokens, starts = encode_documents(tok, texts, eos)
    stats.count("tokens", int(tokens.size))
    return tokens, starts, ids


def encode_documents(tok, texts: list[str], eos: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's tokens followed by EOS, concatenated, and the offsets where each starts (+ the end)."""
    pieces, starts, offset = [], [0], 0
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        ids = np.asarray(enc.ids + [eos], dtype=DTYPE)
        pieces.append(ids)
        offset += len(ids)
        starts.append(offset)
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=DTYPE)
    return tokens, np.asarray(starts, dtype=np.int64)
