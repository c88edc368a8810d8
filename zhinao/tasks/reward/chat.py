"""Chat messages as the (prompt, response) a reward model reads: everything before the last
assistant turn is the prompt, that turn is the response.

A prompt of a single user turn is its text; a system message goes before it as a paragraph; earlier
turns of a longer conversation are kept as `User:` / `Assistant:` blocks, so the reward model sees
the whole context through the one user message its chat template wraps it in.
"""
from __future__ import annotations

from typing import Any

ROLES = ("system", "user", "assistant")
LABELS = {"user": "User", "assistant": "Assistant"}


class BadMessages(ValueError):
    """A conversation that cannot be read as (prompt, response); `reason` is its drop reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise BadMessages("bad_messages", "expected a non-empty list of {role, content} messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise BadMessages("bad_messages", f"message {i} is not a {{role: {'|'.join(ROLES)}, content: str}} object")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def render_prompt(context: list[dict[str, str]]) -> str:
    system = [m["content"].strip() for m in context if m["role"] == "system"]
    turns = [m for m in context if m["role"] != "system"]
    if len(turns) == 1:
        body = turns[0]["content"].strip()
    else:
        body = "\n\n".join(f"{LABELS[m['role']]}: {m['content'].strip()}" for m in turns)
    return "\n\n".join(system + [body])


def prompt_and_response(messages: Any) -> tuple[str, str, list[dict[str, str]]]:
    """(prompt, response, context messages) of a conversation whose last message is an assistant turn."""
    msgs = check_messages(messages)
    if msgs[-1]["role"] != "assistant":
        raise BadMessages("no_assistant_turn", "the last message is not an assistant turn")
    context = msgs[:-1]
    if not any(m["role"] == "user" for m in context):
        raise BadMessages("no_user_turn", "no user turn before the last assistant turn")
    return render_prompt(context), msgs[-1]["content"], context
