"""Chat conversations made from the labelled sample articles, in the chat dataset layout (id,
messages, lang, origin, evolved_from, domain): SFT data for tests and benchmarks that need no
generator. The user asks for an article by its title, the assistant writes it; every third
conversation has a system turn, every other a second exchange (a one-line summary)."""
from __future__ import annotations

import hashlib
import json

from .labelled import labelled_articles

ASK = {"en": "Write a short article titled \"{title}\".", "zh": "写一篇题为《{title}》的短文。"}
SUMMARY = {"en": "Now summarise it in one line.", "zh": "用一句话概括它。"}
SYSTEM = {"en": "You are a concise writer.", "zh": "你是一位简洁的作者。"}


def sample_chats(per_topic: int, seed: int = 0) -> list[dict]:
    rows = []
    for k, art in enumerate(labelled_articles(per_topic, seed=seed)):
        lang = art["lang"]
        title, _, body = art["text"].partition("\n")
        messages = [{"role": "system", "content": SYSTEM[lang]}] if k % 3 == 0 else []
        messages += [{"role": "user", "content": ASK[lang].format(title=title)},
                     {"role": "assistant", "content": body}]
        if k % 2:
            messages += [{"role": "user", "content": SUMMARY[lang]},
                         {"role": "assistant", "content": body.split("\n")[0]}]
        digest = hashlib.sha256(json.dumps([messages, "sample"], ensure_ascii=False).encode()).hexdigest()[:16]
        rows.append({"id": digest, "messages": messages, "lang": lang, "origin": "sample", "evolved_from": None,
                     "domain": art["truth"]})
    return rows
