"""Long samples from documents: a document at least `min_chars` long stands alone; shorter ones are
joined, in the order they come, with the others of their group (one topic or source, one language:
related text, as real long documents are rare in a crawl) until the sample reaches `min_chars`. What is left of the
groups at the end is joined across the groups of one language (group `mixed/<lang>`); the last
remainders, too short, are dropped and counted (`left_short`)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

SEPARATOR = "\n\n"


@dataclass
class Pending:
    texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    langs: list[str | None] = field(default_factory=list)
    chars: int = 0

    def add(self, doc_id: str, text: str, lang: str | None) -> None:
        self.chars += len(text) + (len(SEPARATOR) if self.texts else 0)
        self.texts.append(text)
        self.ids.append(doc_id)
        self.langs.append(lang)

    def sample(self, group: str) -> dict:
        text = SEPARATOR.join(self.texts)
        langs = {lang for lang in self.langs if lang}
        return {"id": "long-" + hashlib.sha256("\x00".join(self.ids).encode()).hexdigest()[:16], "kind": "long",
                "text": text, "messages": None, "lang": langs.pop() if len(langs) == 1 else "mixed",
                "group": group, "parts": len(self.ids), "chars": len(text)}


def join_documents(docs: Iterable[dict], min_chars: int, group_by: str) -> Iterator[dict | tuple[str, int]]:
    """Long samples from documents (id, text, lang, and the group_by column), then ("left_short", documents)
    for each language's remainder too short for one more sample. Empty texts are skipped."""
    open_groups: dict[str, Pending] = {}
    for d in docs:
        text = (d.get("text") or "").strip()
        if not text:
            continue
        group = f"{d.get(group_by) or 'unknown'}/{d.get('lang') or 'unknown'}"      # one language a sample
        if len(text) >= min_chars:
            one = Pending()
            one.add(str(d["id"]), text, d.get("lang"))
            yield one.sample(group)
            continue
        pending = open_groups.setdefault(group, Pending())
        pending.add(str(d["id"]), text, d.get("lang"))
        if pending.chars >= min_chars:
            yield pending.sample(group)
            del open_groups[group]
    mixed: dict[str, Pending] = {}          # what is left, joined across groups of one language
    for group in sorted(open_groups):
        rest = open_groups[group]
        for doc_id, text, lang in zip(rest.ids, rest.texts, rest.langs):
            key = f"mixed/{lang or 'unknown'}"
            pending = mixed.setdefault(key, Pending())
            pending.add(doc_id, text, lang)
            if pending.chars >= min_chars:
                yield pending.sample(key)
                del mixed[key]
    for pending in mixed.values():
        yield "left_short", len(pending.ids)
