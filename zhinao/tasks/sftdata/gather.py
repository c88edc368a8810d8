"""sft-data's first pass, one Ray task per input shard or user file: rows become chat items (judged
prompt/response items, chat datasets as they are, user files in their layout), each labelled with
its domain (the topic classifier on the user turns), intent and difficulty (heuristic rules; the
generator labeler may replace them later) and length bucket. Rows that make no conversation, or
are in a language not asked for, are drops with the reason."""
from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..chat.layouts import parse_file, read_file
from ..chat.schema import SFT, chat_id, message_problem, response_text, turn, user_text
from ..generate.checks import base_lang, detect_lang
from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats
from ..topics.classifier import load_classifier, predict
from .labels import heuristic_difficulty, heuristic_intent, length_bucket

LABELLED = SFT.append(pa.field("label_source", pa.string()))
AUDIT = LABELLED.append(pa.field("drop_reason", pa.string()))

# a judged item's kind says its intent better than keywords do
_KIND_INTENT = {"math": "math", "code": "coding"}


def file_name(uri: str) -> str:
    return PurePosixPath(uri.split("://", 1)[-1]).name


def _language(declared: str | None, messages: list[dict], langs: list[str]) -> str | None:
    lang = base_lang(declared)
    if lang not in langs:
        lang = base_lang(detect_lang("\n".join(m["content"] for m in messages))[0])
    return lang if lang in langs else None


def item_rows(table: pa.Table, origin: str) -> list[dict]:
    """Judged synthetic items (prompt, response) as one-turn conversations."""
    out = []
    for r in table.to_pylist():
        messages = [turn("user", r["prompt"] or ""), turn("assistant", r["response"] or "")]
        out.append({"id": chat_id(messages, origin), "messages": messages, "lang": r.get("lang"), "origin": origin,
                    "evolved_from": r.get("evolved_from"), "_hint": _KIND_INTENT.get(r.get("kind"))})
    return out


def chat_rows(table: pa.Table, origin: str) -> list[dict]:
    """A chat dataset's rows as they are (their own origin when they name one)."""
    return [{"id": r["id"], "messages": r["messages"], "lang": r.get("lang"), "origin": r.get("origin") or origin,
             "evolved_from": r.get("evolved_from")} for r in table.to_pylist()]


def file_rows(uri: str) -> tuple[list[dict], dict]:
    """A user file's rows (bad ones with `_problem`, id FILE:LINE), and its layout summary."""
    name = file_name(uri)
    layout, parsed = parse_file(read_file(uri), name)
    origin = f"file:{name}"
    rows = []
    for fr in parsed:
        if fr.problem:
            rows.append({"id": f"{name}:{fr.line}", "messages": None, "lang": fr.lang, "origin": origin,
                         "_problem": fr.problem})
        else:
            rows.append({"id": chat_id(fr.messages, origin), "messages": fr.messages, "lang": fr.lang,
                         "origin": origin, "evolved_from": None})
    return rows, {"file": name, "layout": layout, "rows": len(parsed)}


def label(rows: list[dict], p: Any, model_folder: str) -> None:
    """Domain, intent, difficulty and length bucket of each row, in place."""
    model = load_classifier(model_folder)
    domains = predict(model, [user_text(r["messages"]) for r in rows], p.max_chars)
    for r, (domain, _) in zip(rows, domains):
        request, response = user_text(r["messages"]), response_text(r["messages"])
        r["domain"] = domain or "(none)"
        r["intent"] = r.pop("_hint", None) or heuristic_intent(request)
        r["difficulty"] = heuristic_difficulty(request, response, r["intent"],
                                               sum(m["role"] == "user" for m in r["messages"]))
        r["length_bucket"] = length_bucket(response, p.length_edges)
        r["label_source"] = "heuristic"


def gather_split(split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
    """split: {kind: items | chat | file, origin, root + path (datasets) or uri (files), model_folder}."""
    summary = None
    if split["kind"] == "file":
        rows, summary = file_rows(split["uri"])
    else:
        with split["root"].fs.open_input_file(split["path"]) as fh:
            table = pq.read_table(fh)
        rows = (item_rows if split["kind"] == "items" else chat_rows)(table, split["origin"])
    kept, bad = [], []
    for r in rows:
        problem = r.pop("_problem", None) or message_problem(r["messages"])
        if problem is None:
            lang = _language(r["lang"], r["messages"], params.langs)
            problem = None if lang else "unsupported_language"
            r["lang"] = lang or r["lang"]
        (bad if problem else kept).append(r | ({"drop_reason": problem} if problem else {}))
    if kept:
        label(kept, params, split["model_folder"])
    stats.count("rows_in", len(rows))
    if summary is not None:
        reasons = Counter(r["drop_reason"] for r in bad)
        stats.table("file", [summary | {"kept": len(kept), "dropped": len(bad),
                                        "drop_reasons": ", ".join(f"{k}={v}" for k, v in sorted(reasons.items()))}])
    if kept:
        sink.write(conform(pa.Table.from_pylist([{k: r.get(k) for k in LABELLED.names} for r in kept]), LABELLED))
    if bad:
        sink.drop(conform(pa.Table.from_pylist([{k: r.get(k) for k in AUDIT.names} for r in bad]), AUDIT))
