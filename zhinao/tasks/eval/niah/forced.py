"""Teacher-forced needle-in-a-haystack: instead of generating an answer, the expected answer's
tokens are scored after the prompt (rendered as the generator renders it), one forward per item. An
item is found when every answer token is the model's top choice (greedy decoding would produce
it); its score is the answer's mean token probability. Much faster than generation at long lengths,
and blind to how the model would phrase an answer."""
from __future__ import annotations

import math
from typing import Any


def prompt_text(tokenizer, prompt: str) -> str:
    """The prompt as the generators render it: the chat template's user turn and assistant start,
    or (a base model) the text and a blank line."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                             tokenize=False)
    return prompt + "\n\n"


def teacher_forced(items: list[dict], scorer: Any, tokenizer, batch_size: int = 8) -> list[dict]:
    """Each item (prompt dropped) with found, score and method "teacher-forced"; `scorer` a
    LoglikScorer of the model."""
    encoded = [(scorer.encode(prompt_text(tokenizer, it["prompt"])), scorer.encode(it["answer"])) for it in items]
    scored = scorer.score_tokens(encoded, batch_size, desc="niah (teacher-forced)")
    out = []
    for item, s in zip(items, scored, strict=True):
        row = {k: v for k, v in item.items() if k != "prompt"}
        out.append(row | {"response": "", "score": round(math.exp(s.logprob / max(s.tokens, 1)), 4),
                          "found": bool(s.greedy), "method": "teacher-forced"})
    return out
