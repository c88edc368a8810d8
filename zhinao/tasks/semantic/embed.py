"""embed: one embedding per document, kept as its own dataset version (re-used across eps values)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ..dedup.shuffle import read_table
from ..runtime.sink import ShardSink
from ..stats import StageStats
from .encoder import encoder


def embeddings_column(emb: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(emb.astype(np.float32).ravel(), pa.float32()), emb.shape[1])


def column_embeddings(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


def embed_shard(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    table = read_table(split["root"], split["path"], columns=["id", "text"])
    model = encoder(split["model_path"], params.device)
    texts = [(t or "")[: params.max_chars] for t in table["text"].to_pylist()]
    emb = model.encode(texts, batch_size=params.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    emb = np.asarray(emb, dtype=np.float32).reshape(len(texts), model.get_embedding_dimension())
    stats.count("rows_in", len(texts))
    stats.count("rows_out", len(texts))
    # one shard per input shard, even an empty one: dedup-semantic pairs them by position
    sink.write(pa.table({"id": table["id"], "embedding": embeddings_column(emb)}), keep_empty=True)
