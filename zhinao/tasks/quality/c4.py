"""C4 rules (Raffel et al. 2020, as in datatrove) as document-level decisions with signals.

C4 also deletes offending lines; here the stage only measures and decides, so text changes stay with
the extraction stage. CJK changes: sentence ends include 。！？, lines of CJK text count characters
instead of words for the "too short" rule (3 words ~ 5 characters), and sentences are split on CJK
punctuation.
"""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from .text import TERMINAL_PUNCT, Doc

POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
          "隐私政策", "使用条款", "版权所有", "cookie政策")
_SENT = re.compile(r"[.!?。！？]+")


class C4Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_sentences: int = Field(5, ge=0)
    min_words_per_line: int = Field(3, ge=0)
    cjk_min_chars_per_line: int = Field(5, ge=0)
    max_word_length: int = Field(1000, gt=0)
    max_bad_lines_ratio: float = Field(0.5, ge=0, le=1)     # lines C4 would delete, before the document is dropped
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = True
    drop_javascript: bool = True


def c4(doc: Doc, cfg: C4Config) -> tuple[dict[str, float], str | None]:
    low = doc.text.lower()
    if cfg.drop_lorem_ipsum and "lorem ipsum" in low:
        return {}, "lorem_ipsum"
    if cfg.drop_curly_bracket and "{" in doc.text:
        return {}, "curly_bracket"
    lines = doc.lines or [""]
    bad = 0
    for line in lines:
        short = (len(line) < cfg.cjk_min_chars_per_line if doc.cjk
                 else len(line.split()) < cfg.min_words_per_line)
        if (short or not line.endswith(TERMINAL_PUNCT) or any(p in line.lower() for p in POLICY)
                or (cfg.drop_javascript and "javascript" in line.lower())):
            bad += 1
    sentences = len([s for s in _SENT.split(doc.text) if s.strip()])
    sig = {"c4_bad_lines_ratio": bad / len(lines), "c4_sentences": sentences}
    if any(len(w) > cfg.max_word_length for w in doc.words):
        return sig, "max_word_length"
    if bad / len(lines) > cfg.max_bad_lines_ratio:
        return sig, "bad_lines_ratio"
    if sentences < cfg.min_sentences:
        return sig, "min_sentences"
    return sig, None
