"""Language-aware units for quality rules: words, lines, paragraphs, sentence ends.

Chinese and Japanese have no spaces between words, so rules that count words segment Chinese with
jieba (rjieba) and fall back to single characters for Japanese; punctuation counts include the
full-width CJK marks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("rjieba",)}

CJK_LANGS = {"zh", "ja", "yue", "wuu"}
TERMINAL_PUNCT = tuple(".!?\"'”’…。！？」』)）")
_SPACED_WORD = re.compile(r"\S+")
_PUNCT_ONLY = re.compile(r"^[\W_]+$", re.U)
_HAN_OR_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def is_cjk(lang: str | None, text: str) -> bool:
    if lang in CJK_LANGS:
        return True
    if lang:
        return False
    sample = text[:2000]
    return len(_HAN_OR_KANA.findall(sample)) > 0.3 * max(1, len(sample.replace(" ", "")))


def segment(text: str, lang: str | None) -> list[str]:
    """Words without whitespace; for CJK, jieba words (Chinese) or characters (Japanese), with
    punctuation-only tokens removed as spaced languages' punctuation is attached to words."""
    if lang == "ja":
        return [c for c in text if not c.isspace() and not _PUNCT_ONLY.match(c)]
    import rjieba

    return [w for w in rjieba.cut(text) if w.strip() and not _PUNCT_ONLY.match(w)]


@dataclass
class Doc:
    text: str
    lang: str | None

    @cached_property
    def cjk(self) -> bool:
        return is_cjk(self.lang, self.text)

    @cached_property
    def words(self) -> list[str]:
        return segment(self.text, self.lang) if self.cjk else _SPACED_WORD.findall(self.text)

    @cached_property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in re.split(r"\n\s*\n", self.text) if p.strip()]

    @cached_property
    def chars(self) -> int:
        return len(self.text)
