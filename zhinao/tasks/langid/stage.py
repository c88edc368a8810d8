"""langid: language and score per document, keep-list and score threshold as drop reasons."""
from __future__ import annotations

import pyarrow as pa
from typing import Any

from pydantic import Field

from ..bounds import Fraction
from ..params import StageParams
from ..runtime.docstage import document_stage
from ..runtime.mapper import split_by_reason
from ..stats import StageStats
from .model import predict
from .script import chinese_script, identify


ADDED = (pa.field("lang", pa.string()), pa.field("lang_score", pa.float32()), pa.field("lang_script", pa.string()),
         pa.field("lang_method", pa.string()))      # 'model': lid.176's label; 'script': script evidence's
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
    langs, scores, scripts, methods, reasons = [], [], [], [], []
    for text, pred in zip(texts, preds):
        said, score = pred[0] if pred else ("und", 0.0)
        # fastText's softmax can exceed 1 by rounding
        lang, score, method = identify(said, min(score, 1.0), text[:MAX_CHARS])
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
        methods.append(method)
        reasons.append(reason)
        stats.observe("lang" if reason is None else "lang_dropped", f"{lang}-{script}" if script else lang)
        stats.observe("lang_method", method)
        if method == "script":      # which lid.176 labels the script overruled: its blind spots on real data
            stats.observe("lang_corrected", f"{said}->{lang}")
    for field, values in zip(ADDED, (langs, scores, scripts, methods)):
        column = pa.array(values, field.type)
        if field.name in table.column_names:
            table = table.set_column(table.column_names.index(field.name), field.name, column)
        else:
            table = table.append_column(field.name, column)
    return split_by_reason(table, reasons)


class LangIdParams(StageParams):
    keep: list[str] = Field(default_factory=lambda: ["zh", "en"],
                            description="Languages to keep (ISO 639 codes as lid.176 gives them); 'zh-Hans' or "
                                        "'zh-Hant' keeps one Chinese script only; empty keeps all.")
    min_score: float = Field(0.65, ge=0, le=1, description="Drop documents whose top language probability is lower.")
    min_score_by_lang: dict[str, Fraction] = Field(default_factory=dict,
                                                description="Per-language thresholds overriding min_score.")


LANGID = document_stage(
    "langid", LangIdParams, langid_batch, ADDED, code=("zhinao.tasks.langid", "zhinao.tasks.runtime.mapper"),
    input="extract", description="Language ID with fastText lid.176; keeps the configured languages.", tags=("data",), pipeline="data")
