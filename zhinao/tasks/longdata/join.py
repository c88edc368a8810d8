"""Long samples from documents: a document at least `min_chars` long stands alone; shorter ones are
joined, in the order they come, with the others of their group (topic or source: related text, as
real long documents are rare in a crawl) until the sample reaches `min_chars`. What is left of the
groups at the end is joined across groups (group `mixed`); the last remainder, too short, is
dropped and counted (`left_short`)."""
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
    for the remainder too short for one more sample. Empty texts are skipped."""
    open_groups: dict[str, Pending] = {}
    for d in docs:
        text = (d.get("text") or "").strip()
        if not text:
            continue
        group = str(d.get(group_by) or "unknown")
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
    mixed = Pending()
    for group in sorted(open_groups):
        rest = open_groups[group]
        for doc_id, text, lang in zip(rest.ids, rest.texts, rest.langs):
            mixed.add(doc_id, text, lang)
            if mixed.chars >= min_chars:
                yield mixed.sample("mixed")
                mixed = Pending()
    if mixed.ids:
        yield "left_short", len(mixed.ids)
