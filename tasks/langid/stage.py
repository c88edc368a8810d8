"""langid: language and score per document, keep-list and score threshold as drop reasons."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..runtime.mapper import split_by_reason
from ..stats import StageStats
from .model import predict
from .script import chinese_script, correct_cjk

ADDED = (pa.field("lang", pa.string()), pa.field("lang_score", pa.float32()), pa.field("lang_script", pa.string()))
MAX_CHARS = 10000   # lid.176 decides well long before this; bounds the cost of enormous documents


def keeps(lang: str, script: str | None, keep: list[str]) -> bool:
    """keep entries are languages ('zh', 'en') or a Chinese script ('zh-Hans', 'zh-Hant'); empty
    keeps every language."""
    if not keep:
        return True
    return lang in keep or (script is not None and f"{lang}-{script}" in keep)


def langid_batch(table: pa.Table, params: Any, stats: StageStats) -> tuple[pa.Table, pa.Table]:
    texts = [t or "" for t in table["text"].to_pylist()]
    preds = predict([t[:MAX_CHARS] for t in texts], k=1)
    langs, scores, scripts, reasons = [], [], [], []
    for text, pred in zip(texts, preds):
        lang, score = pred[0] if pred else ("und", 0.0)
        score = min(score, 1.0)  # fastText's softmax can exceed 1 by rounding
        # a script-evidence correction keeps the model's confidence that the text is CJK
        lang = correct_cjk(lang, text[:MAX_CHARS])
        script = chinese_script(text) if lang == "zh" else None
        threshold = params.min_score_by_lang.get(lang, params.min_score)
        if not keeps(lang, script, params.keep):
            reason = "lang_not_kept"
        elif score < threshold:
            reason = "lang_low_score"
        else:
            reason = None
        langs.append(lang)
        scores.append(score)
        scripts.append(script)
        reasons.append(reason)
        stats.observe("lang" if reason is None else "lang_dropped", f"{lang}-{script}" if script else lang)
    for name, values in (("lang", langs), ("lang_score", scores), ("lang_script", scripts)):
        field = next(f for f in ADDED if f.name == name)
        column = pa.array(values, field.type)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return split_by_reason(table, reasons)
