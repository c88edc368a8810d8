"""The 42-category taxonomy of web text, kept as data (taxonomy.json) beside this module.

Each category has a stable id (the value of the `topic` column), English and Chinese names and a
description in both languages; the descriptions are what the zero-shot annotators compare with.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.json")
FIELDS = ("id", "en", "zh", "description_en", "description_zh")


@dataclass(frozen=True)
class Category:
    id: str
    en: str
    zh: str
    description_en: str
    description_zh: str

    def description(self, lang: str | None) -> str:
        return self.description_zh if (lang or "").startswith("zh") else self.description_en

    def name(self, lang: str | None) -> str:
        return self.zh if (lang or "").startswith("zh") else self.en


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]
    fingerprint: str            # content hash: enters the version id of every stage using it

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def __getitem__(self, cid: str) -> Category:
        for c in self.categories:
            if c.id == cid:
                return c
        raise KeyError(f"unknown topic {cid!r}; the taxonomy has {len(self.categories)} ids")

    def __len__(self) -> int:
        return len(self.categories)


def parse_taxonomy(text: str, origin: str = "taxonomy") -> Taxonomy:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{origin}: not valid JSON ({e})") from None
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{origin}: expected a non-empty JSON list of categories")
    cats, seen = [], set()
    for i, row in enumerate(rows):
        missing = [f for f in FIELDS if not isinstance(row, dict) or not str(row.get(f) or "").strip()]
        if missing:
            raise ValueError(f"{origin}: category #{i} lacks {missing}")
        if row["id"] in seen:
            raise ValueError(f"{origin}: category id {row['id']!r} appears twice")
        if not row["id"].replace("_", "").isalnum() or row["id"] != row["id"].lower():
            raise ValueError(f"{origin}: category id {row['id']!r} must be lowercase letters, digits and '_'")
        seen.add(row["id"])
        cats.append(Category(**{f: str(row[f]).strip() for f in FIELDS}))
    return Taxonomy(tuple(cats), hashlib.sha256(text.encode()).hexdigest()[:16])


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The built-in taxonomy, or a JSON file of the same shape (a list of {id, en, zh,
    description_en, description_zh})."""
    return _load(str(Path(path).expanduser().resolve()) if path else str(TAXONOMY_FILE))


@lru_cache(maxsize=4)
def _load(path: str) -> Taxonomy:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"taxonomy file {p} does not exist")
    return parse_taxonomy(p.read_text(encoding="utf-8"), origin=str(p))
