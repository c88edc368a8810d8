"""A reward model (any HF sequence-classification checkpoint with one output) scoring
(prompt, response) pairs, loaded once per process (an actor keeps it)."""
from __future__ import annotations

import os
from functools import lru_cache

from ..generate.hf import pick_device

# inputs from outside the repository that shape output (tasks/store/external.py)
EXTERNAL = {"libraries": ("transformers", "torch")}


def chat_text(tok, prompt: str, response: str) -> str:
    """What a reward model reads for (prompt, response): its chat template's user and assistant turns
    (the template's special tokens are in the text, so it is tokenized without adding any), else both
    texts a blank line apart. Training (tasks/reward/pair_data.py) and scoring both use it."""
    if tok.chat_template:
        return tok.apply_chat_template([{"role": "user", "content": prompt},
                                        {"role": "assistant", "content": response}], tokenize=False)
    return f"{prompt}\n\n{response}"


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

    def text(self, prompt: str, response: str) -> str:
        return chat_text(self.tok, prompt, response)

    def score(self, prompts: list[str], responses: list[str], batch_size: int = 16) -> list[float]:
        import torch

        out: list[float] = []
        for i in range(0, len(prompts), batch_size):
            pairs = zip(prompts[i:i + batch_size], responses[i:i + batch_size])
            texts = [self.text(p or "", r or "") for p, r in pairs]
            enc = self.tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length,
                           add_special_tokens=not self.tok.chat_template).to(self.device)
            with torch.inference_mode():
                out += self.model(**enc).logits[:, 0].float().tolist()
        return out


@lru_cache(maxsize=2)
def scorer(path: str, device: str, max_length: int) -> RewardScorer:
    return RewardScorer(path, device, max_length)
