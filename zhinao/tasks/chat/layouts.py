"""User chat files in the common layouts, detected per file: OpenAI `messages` ({"messages": [{"role",
"content"}]}), ShareGPT ({"conversations": [{"from": "human"|"gpt"|"system", "value"}]}) and Alpaca
({"instruction", "input", "output"}). JSON Lines (.jsonl / .ndjson, optionally compressed) or one
JSON list (.json). A row that does not make a conversation is a drop with the reason, never an
exception; a file with no row of a known layout is an error naming the file and what it holds."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from .schema import message_problem, turn

LAYOUTS = ("openai", "sharegpt", "alpaca")
_KEYS = {"openai": "messages", "sharegpt": "conversations", "alpaca": "instruction"}
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "chatgpt": "assistant", "bard": "assistant", "bing": "assistant", "model": "assistant",
                   "system": "system"}


@dataclass(frozen=True)
class FileRow:
    line: int                       # 1-based line (JSONL) or list position (JSON)
    messages: list[dict] | None
    lang: str | None                # a `lang` field of the row, when it has one
    problem: str | None             # the drop reason, when messages is None


def _objects(text: str, name: str) -> Iterator[tuple[int, Any]]:
    """(line, parsed value or the JSONDecodeError) per record of a JSONL text or a JSON list."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{name}: not valid JSON ({e.msg} at line {e.lineno})") from None
        yield from enumerate(values, 1)
        return
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as e:
                yield number, e


def detect_layout(values: list[Any], name: str) -> str:
    """The layout of the first object holding a layout's key."""
    for v in values:
        if isinstance(v, dict):
            for layout, key in _KEYS.items():
                if key in v:
                    return layout
    keys = sorted({k for v in values[:50] if isinstance(v, dict) for k in v})
    raise ValueError(f"{name}: no row in a known chat layout ({', '.join(f'{k} ({_KEYS[k]!r})' for k in LAYOUTS)}); "
                     f"its rows have keys {keys[:20]}" if keys else f"{name}: no JSON object rows")


def _content(value: Any) -> str | None:
    """A message's text: a string, or OpenAI's list of parts when they are all text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(p, dict) and p.get("type") == "text"
                                                 and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value)
    return None


def _openai(row: dict) -> tuple[list[dict] | None, str | None]:
    msgs = row.get("messages")
    if not isinstance(msgs, list):
        return None, "missing_field:messages"
    out = []
    for m in msgs:
        if not isinstance(m, dict) or "role" not in m:
            return None, "bad_message"
        text = _content(m.get("content"))
        if text is None:
            return None, "non_text_content"
        out.append(turn(m["role"], text))
    return out, None


def _sharegpt(row: dict) -> tuple[list[dict] | None, str | None]:
    conv = row.get("conversations")
    if not isinstance(conv, list):
        return None, "missing_field:conversations"
    out = []
    if isinstance(row.get("system"), str) and row["system"].strip():
        out.append(turn("system", row["system"]))
    for m in conv:
        if not isinstance(m, dict) or not isinstance(m.get("from"), str) or not isinstance(m.get("value"), str):
            return None, "bad_message"
        role = _SHAREGPT_ROLES.get(m["from"].lower())
        if role is None:
            return None, "unknown_role"
        out.append(turn(role, m["value"]))
    return out, None


def _alpaca(row: dict) -> tuple[list[dict] | None, str | None]:
    for key in ("instruction", "output"):
        if not isinstance(row.get(key), str):
            return None, f"missing_field:{key}"
    extra = row.get("input")
    if extra is not None and not isinstance(extra, str):
        return None, "bad_field:input"
    user = row["instruction"].strip() + (f"\n\n{extra.strip()}" if extra and extra.strip() else "")
    out = [turn("system", row["system"])] if isinstance(row.get("system"), str) and row["system"].strip() else []
    return out + [turn("user", user), turn("assistant", row["output"])], None


_PARSERS = {"openai": _openai, "sharegpt": _sharegpt, "alpaca": _alpaca}


def parse_file(text: str, name: str) -> tuple[str, list[FileRow]]:
    """(the file's layout, one FileRow per record)."""
    records = list(_objects(text, name))
    if not records:
        raise ValueError(f"{name}: the file is empty")
    layout = detect_layout([v for _, v in records], name)
    rows = []
    for line, value in records:
        if isinstance(value, json.JSONDecodeError):
            rows.append(FileRow(line, None, None, "bad_json"))
            continue
        if not isinstance(value, dict):
            rows.append(FileRow(line, None, None, "not_an_object"))
            continue
        messages, problem = _PARSERS[layout](value)
        problem = problem or message_problem(messages)
        lang = value.get("lang") if isinstance(value.get("lang"), str) else None
        rows.append(FileRow(line, None if problem else messages, lang, problem))
    return layout, rows


def read_file(uri: str) -> str:
    """A local path or fsspec URI, decompressed by its extension (.gz, .bz2, .zst ...)."""
    import fsspec

    with fsspec.open(uri, "rt", encoding="utf-8", compression="infer") as fh:
        return fh.read()
