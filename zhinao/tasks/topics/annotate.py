"""Annotation: a sample of documents labelled by a strong (slow) annotator, the training data of
the fast classifier. Output rows: id, lang, text, topic, annotation_score, annotator."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..generate.engine import read_rows
from ..generate.rows import WriteRows
from ..runtime.sink import ShardSink
from ..stats import StageStats
from .zeroshot import ZeroShotConfig, zero_shot

SCHEMA = pa.schema([("id", pa.string()), ("lang", pa.string()), ("text", pa.string()), ("topic", pa.string()),
                    ("annotation_score", pa.float32()), ("annotator", pa.string())])


def zero_shot_config(split: dict, params: Any) -> ZeroShotConfig:
    return ZeroShotConfig(model_path=split["model_path"], taxonomy=params.taxonomy, device=params.device,
                          max_chars=params.max_chars, temperature=params.zero_shot_temperature,
                          lexical_weight=tuple(sorted(params.lexical_weight.items())),
                          batch_size=params.embed_batch_size)


def annotate_shard(split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
    """The embedding annotator over one input shard's sampled rows (split: path, ids, root, model_path)."""
    rows = read_rows(split | {"columns": ["id", "lang", "text"]})
    labels = zero_shot(zero_shot_config(split, params)).annotate([r["text"] for r in rows],
                                                                 [r["lang"] for r in rows])
    out = []
    for r, (topic, score) in zip(rows, labels):
        low = score < params.min_confidence
        if not low:
            stats.observe("topic", topic)
        out.append({"id": r["id"], "lang": r["lang"], "text": (r["text"] or "")[: params.max_chars], "topic": topic,
                    "annotation_score": score, "annotator": "zero-shot:embedding+keywords",
                    "drop_reason": "low_confidence" if low else None})
    stats.count("rows_in", len(rows))
    WriteRows()({"rows": out, "schema": SCHEMA}, params, sink, stats)
