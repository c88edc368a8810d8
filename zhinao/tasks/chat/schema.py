"""The chat dataset schema shared by the post-training stages (instruct-evolve, sft-data, rm-filter,
sft): `messages` as (role, content) structs, `lang`, `origin` and `evolved_from`; sft-data adds its
label columns."""
from __future__ import annotations

import hashlib
import json

import pyarrow as pa

ROLES = ("system", "user", "assistant")
LANGS = ("en", "zh")

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

CHAT = pa.schema([("id", pa.string()), ("messages", pa.list_(MESSAGE)), ("lang", pa.string()),
                  ("origin", pa.string()), ("evolved_from", pa.string())])

LABELS = ("domain", "intent", "difficulty", "length_bucket")
SFT = CHAT.append(pa.field("domain", pa.string())).append(pa.field("intent", pa.string())) \
    .append(pa.field("difficulty", pa.string())).append(pa.field("length_bucket", pa.string()))


def chat_id(messages: list[dict], origin: str) -> str:
    """Stable id: a hash of the conversation and where it came from (the same item from the same
    origin gets the same id on every run; the same text from two origins stays two items)."""
    body = json.dumps([origin, [[m["role"], m["content"]] for m in messages]], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def message_problem(messages) -> str | None:
    """Why a conversation cannot be a training item (a drop reason), or None: known roles only,
    non-empty contents, at least one user turn, the last turn the assistant's."""
    if not isinstance(messages, list) or not messages:
        return "no_messages"
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            return "bad_message"
        if m["role"] not in ROLES:
            return "unknown_role"
        if not m["content"].strip():
            return "empty_turn"
    if not any(m["role"] == "user" for m in messages):
        return "no_user_turn"
    if messages[-1]["role"] != "assistant":
        return "last_turn_not_assistant"
    return None


def user_text(messages: list[dict]) -> str:
    """The user's side of a conversation (what labels of the request read)."""
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def response_text(messages: list[dict]) -> str:
    """The assistant's side (what the length of a response counts)."""
    return "\n".join(m["content"] for m in messages if m["role"] == "assistant")


def check_langs(langs: list[str]) -> list[str]:
    """A parameter naming languages: a non-empty subset of LANGS."""
    if not langs or set(langs) - set(LANGS):
        raise ValueError(f"langs must be a non-empty subset of {list(LANGS)}, got {langs}")
    return langs
