"""A reward model (any HF sequence-classification checkpoint with one output) scoring
(prompt, response) pairs, loaded once per process (an actor keeps it)."""
from __future__ import annotations

import os
from functools import lru_cache

from ..generate.hf import pick_device

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("transformers", "torch")}


def chat_text(tok, messages: list[dict]) -> str:
    """A conversation as a reward model reads it: its chat template (the template's special tokens are
    in the text, so it is tokenized without adding any), else the turns a blank line apart. Training
    (zhinao/tasks/reward/pair_data.py, each side as `as_chat(prompt, response)`) and scoring both use it."""
    if tok.chat_template:
        return tok.apply_chat_template(messages, tokenize=False)
    return "\n\n".join(m["content"] for m in messages)


class RewardScorer:
    def __init__(self, path: str, device: str = "auto", max_length: int = 1024):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.device = pick_device(device)
        self.max_length = max_length
        self.tok = AutoTokenizer.from_pretrained(path)
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
        self.model = model.to(self.device).eval()
        if self.model.config.num_labels != 1:
            raise ValueError(f"reward model {path} has {self.model.config.num_labels} outputs; a reward model has one")
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tok.pad_token_id

    def text(self, messages: list[dict]) -> str:
        return chat_text(self.tok, messages)

    def score(self, prompts: list[str], responses: list[str], batch_size: int = 16) -> list[float]:
        """Scores of single-turn (prompt, response) pairs."""
        return self.score_chats([as_chat(p or "", r or "") for p, r in zip(prompts, responses)], batch_size)

    def score_chats(self, chats: list[list[dict]], batch_size: int = 16) -> list[float]:
        """Scores of whole conversations (role/content messages; the last turn is the one judged)."""
        import torch

        out: list[float] = []
        for i in range(0, len(chats), batch_size):
            texts = [self.text(c) for c in chats[i:i + batch_size]]
            enc = self.tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length,
                           add_special_tokens=not self.tok.chat_template).to(self.device)
            with torch.inference_mode():
                out += self.model(**enc).logits[:, 0].float().tolist()
        return out


def as_chat(prompt: str, response: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]


@lru_cache(maxsize=2)
def scorer(path: str, device: str, max_length: int) -> RewardScorer:
    return RewardScorer(path, device, max_length)
