"""rm-score processes: score every row of a shard (phase 1), then keep rows at or above their
category's threshold (phase 2, once the driver knows every category's mean and std)."""
from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats
from .scorer import as_chat, scorer

DROP_REASON = "rm_below_mean_minus_std"


def conversations(table: pa.Table, params: Any) -> list[list[dict]]:
    """What the reward model reads for each row: the row's `messages` (chat datasets), or its
    prompt and response columns as one user and one assistant turn (judge items)."""
    column = getattr(params, "messages_column", None)
    if column:
        chats = [[{"role": m["role"], "content": m["content"] or ""} for m in (msgs or [])]
                 for msgs in table[column].to_pylist()]
        bad = [i for i, c in enumerate(chats) if not c or c[-1]["role"] != "assistant"]
        if bad:
            raise ValueError(f"{len(bad)} row(s) of `{column}` do not end with an assistant turn (first: row {bad[0]}); "
                             "the reward model scores the last assistant turn")
        return chats
    return [as_chat(str(p or ""), str(r or "")) for p, r in zip(table[params.prompt_column].to_pylist(),
                                                                 table[params.response_column].to_pylist())]


def score_shard(split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
    root = split["root"]
    with root.fs.open_input_file(split["path"]) as fh:
        table = pq.read_table(fh)
    rm = scorer(split["model_path"], params.device, params.max_length)
    scores = rm.score_chats(conversations(table, params), params.batch_size)
    stats.count("rows_in", table.num_rows)
    col = pa.array(scores, pa.float32())
    if "rm_score" in table.column_names:
        table = table.set_column(table.column_names.index("rm_score"), "rm_score", col)
    else:
        table = table.append_column("rm_score", col)
    sink.write(table, keep_empty=True)


def filter_shard(split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
    root, schema, thresholds = split["root"], split["schema"], split["thresholds"]
    with root.fs.open_input_file(split["path"]) as fh:
        table = pq.read_table(fh)
    cats = table[params.category_column].cast(pa.string()).fill_null("(none)").to_pylist()
    limit = pa.array([thresholds[c] for c in cats], pa.float32())
    keep = pc.greater_equal(table["rm_score"], limit)
    kept, dropped = table.filter(keep), table.filter(pc.invert(keep))
    stats.count("rows_out", kept.num_rows)
    if dropped.num_rows:
        stats.drop(DROP_REASON, dropped.num_rows)
    sink.write(conform(kept, schema))
    if dropped.num_rows:
        audit = schema.append(pa.field("drop_reason", pa.string()))
        sink.drop(conform(dropped.append_column("drop_reason", pa.array([DROP_REASON] * dropped.num_rows)), audit))
