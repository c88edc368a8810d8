"""classify: the topic classifier over every document (`topic`, `topic_score`), batch by batch."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..stats import StageStats
from .classifier import load_classifier, predict

ADDED = (pa.field("topic", pa.string()), pa.field("topic_score", pa.float32()))


def classify_batch(table: pa.Table, params: Any, stats: StageStats, model_folder: str) -> tuple[pa.Table, pa.Table]:
    model = load_classifier(model_folder)
    labels = predict(model, table["text"].to_pylist(), params.max_chars)
    langs = table["lang"].to_pylist() if "lang" in table.column_names else [None] * table.num_rows
    for (topic, _), lang in zip(labels, langs):
        stats.observe("topic", topic)
        stats.observe("lang_topic", f"{lang}/{topic}")
    out = table.append_column(ADDED[0], pa.array([t for t, _ in labels], pa.string()))
    out = out.append_column(ADDED[1], pa.array([s for _, s in labels], pa.float32()))
    return out, table.slice(0, 0).append_column("drop_reason", pa.array([], pa.string()))
