"""Conversations as training tokens, through the model's own chat template (for our models the
tokenizer stage's ChatML), with an exact mask of the tokens trained: each assistant turn's content
and the template's end of that turn (<|im_end|>), never the system or user turns or the assistant
header (<|im_start|>assistant).

The mask comes from the template itself: the conversation up to an assistant turn, rendered with
the generation prompt, is a prefix of the whole text, and the text up to the end of that turn is a
longer prefix; the characters between the two (trailing whitespace aside) are the turn. The whole
text is tokenized once and a token is trained when its first character lies in a turn, so the ids
are exactly what the template renders (no re-tokenization at piece boundaries)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("transformers", "tokenizers", "jinja2")}

ROLES = ("system", "user", "assistant")


class TemplateError(ValueError):
    pass


def problem(messages) -> str | None:
    """Why a conversation cannot be trained on (a drop reason), or None."""
    if not messages:
        return "no_messages"
    roles = [m.get("role") for m in messages]
    if any(r not in ROLES for r in roles):
        return "unknown_role"
    if any(not isinstance(m.get("content"), str) for m in messages):
        return "content_not_text"
    if "user" not in roles:
        return "no_user_turn"
    if roles[-1] != "assistant":
        return "last_turn_not_assistant"
    if roles.index("assistant") < roles.index("user"):
        return "assistant_before_user"
    return None


class ChatRenderer:
    def __init__(self, tokenizer, name: str = "the tokenizer"):
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError(f"{name} has no chat template: SFT renders conversations with the model's own "
                                "template (the tokenizer stage writes ChatML)")
        self.tok, self.name = tokenizer, name

    @classmethod
    def from_folder(cls, folder: str | Path) -> "ChatRenderer":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(folder)), str(folder))

    def text(self, messages: list[dict], generation_prompt: bool = False) -> str:
        return self.tok.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in messages],
                                            tokenize=False, add_generation_prompt=generation_prompt)

    def spans(self, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
        """The rendered conversation and the character spans of its assistant turns."""
        text = self.text(messages)
        spans = []
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            before, upto = self.text(messages[:i], generation_prompt=True), self.text(messages[:i + 1])
            if not (upto.startswith(before) and text.startswith(upto)):
                raise TemplateError(f"the chat template of {self.name} does not render a conversation as the "
                                    "concatenation of its turns (a prefix changes when turns follow), so the "
                                    "assistant tokens cannot be told apart")
            spans.append((len(before), len(upto.rstrip())))
        return text, spans

    def encode(self, messages: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """(ids int32, trained bool): the template's tokens and which of them are assistant tokens."""
        text, spans = self.spans(messages)
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        starts = np.array([a for a, _ in enc["offset_mapping"]], dtype=np.int64)
        trained = np.zeros(len(starts), dtype=bool)
        for a, b in spans:
            trained |= (starts >= a) & (starts < b)
        return np.asarray(enc["input_ids"], dtype=np.int32), trained

    def turn_end_ids(self) -> list[int]:
        """The special token(s) that end an assistant turn (<|im_end|>): where chat generation stops."""
        ids, trained = self.encode([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
        last = int(ids[np.flatnonzero(trained)[-1]])
        return [last] if last in set(self.tok.all_special_ids) else []

    @property
    def pad_id(self) -> int:
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        return int(pad or 0)
