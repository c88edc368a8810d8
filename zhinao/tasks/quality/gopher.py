"""Gopher quality and repetition rules (Rae et al. 2021, as in datatrove), CJK-aware.

What changes for Chinese/Japanese (`Doc.cjk`): words are jieba words (Chinese) or characters
(Japanese) instead of whitespace tokens; mean word length is bounded by `cjk_*_avg_word_length`
(Chinese words are 1-4 characters, English 3-10 letters); stop words come from a Chinese list; n-gram
repetition runs over those words. Line/paragraph rules and symbol ratios are script-neutral.
"""
from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from ..bounds import Fraction, ordered
from .text import Doc

STOP_WORDS_EN = {"the", "be", "to", "of", "and", "that", "have", "with"}
STOP_WORDS_ZH = {"的", "了", "是", "在", "和", "有", "我", "不", "也", "就", "这", "都", "与", "对", "将", "为"}


class GopherQualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_doc_words: int = Field(50, ge=0)
    max_doc_words: int = Field(100_000, gt=0)
    min_avg_word_length: float = Field(3, ge=0)
    max_avg_word_length: float = Field(10, gt=0)
    cjk_min_avg_word_length: float = Field(1.0, ge=0)
    cjk_max_avg_word_length: float = Field(4.0, gt=0)
    max_symbol_word_ratio: float = Field(0.1, ge=0)     # symbols per word: may exceed 1
    max_bullet_lines_ratio: float = Field(0.9, ge=0, le=1)
    max_ellipsis_lines_ratio: float = Field(0.3, ge=0, le=1)
    min_alpha_words_ratio: float = Field(0.8, ge=0, le=1)       # datatrove calls it max_non_alpha_words_ratio
    min_stop_words: int = Field(2, ge=0)

    _ordered = ordered(("min_doc_words", "max_doc_words"), ("min_avg_word_length", "max_avg_word_length"),
                       ("cjk_min_avg_word_length", "cjk_max_avg_word_length"))


class GopherRepetitionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dup_line_frac: float = Field(0.3, ge=0, le=1)
    dup_para_frac: float = Field(0.3, ge=0, le=1)
    dup_line_char_frac: float = Field(0.2, ge=0, le=1)
    dup_para_char_frac: float = Field(0.2, ge=0, le=1)
    # n-gram size -> largest share of characters in its top (or duplicated) n-grams
    top_n_grams: dict[PositiveInt, Fraction] = {2: 0.2, 3: 0.18, 4: 0.16}
    dup_n_grams: dict[PositiveInt, Fraction] = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def gopher_quality(doc: Doc, cfg: GopherQualityConfig) -> tuple[dict[str, float], str | None]:
    words = doc.words
    n = len(words)
    sig: dict[str, float] = {"gq_words": n}
    if n < cfg.min_doc_words:
        return sig, "min_doc_words"
    if n > cfg.max_doc_words:
        return sig, "max_doc_words"
    avg = sum(len(w) for w in words) / n
    sig["gq_avg_word_length"] = avg
    lo, hi = ((cfg.cjk_min_avg_word_length, cfg.cjk_max_avg_word_length) if doc.cjk
              else (cfg.min_avg_word_length, cfg.max_avg_word_length))
    if avg < lo:
        return sig, "min_avg_word_length"
    if avg > hi:
        return sig, "max_avg_word_length"
    symbols = doc.text.count("#") + doc.text.count("...") + doc.text.count("…")
    sig["gq_symbol_word_ratio"] = symbols / n
    if symbols / n > cfg.max_symbol_word_ratio:
        return sig, "max_symbol_word_ratio"
    lines = doc.lines or [""]
    bullets = sum(line.startswith(("•", "-", "*", "·", "●", "▪")) for line in lines) / len(lines)
    ellipsis = sum(line.endswith(("...", "…")) for line in lines) / len(lines)
    sig |= {"gq_bullet_lines_ratio": bullets, "gq_ellipsis_lines_ratio": ellipsis}
    if bullets > cfg.max_bullet_lines_ratio:
        return sig, "max_bullet_lines_ratio"
    if ellipsis > cfg.max_ellipsis_lines_ratio:
        return sig, "max_ellipsis_lines_ratio"
    # Gopher: 80% of words must contain at least one alphabetic character (CJK characters are alphabetic)
    alpha = sum(any(c.isalpha() for c in w) for w in words) / n
    sig["gq_alpha_words_ratio"] = alpha
    if alpha < cfg.min_alpha_words_ratio:
        return sig, "min_alpha_words_ratio"
    stop = STOP_WORDS_ZH if doc.cjk else STOP_WORDS_EN
    found = sum(w.lower() in stop for w in words)
    sig["gq_stop_words"] = found
    if found < cfg.min_stop_words:
        return sig, "min_stop_words"
    return sig, None


def _dup_stats(items: list[str]) -> tuple[float, float]:
    """Share of items that repeat an earlier one, and share of characters in them."""
    if not items:
        return 0.0, 0.0
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        seen.add(item)
    return dup_items / len(items), dup_chars / max(1, sum(len(i) for i in items))


def _top_ngram_char_frac(words: list[str], n: int) -> float:
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    gram, count = Counter(grams).most_common(1)[0]
    return count * sum(len(w) for w in gram) / max(1, sum(len(w) for w in words))


def _dup_ngram_char_frac(words: list[str], n: int) -> float:
    """Share of word characters covered by n-grams that occur more than once (non-overlapping)."""
    total = sum(len(w) for w in words)
    if len(words) < n or not total:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        if gram in seen:
            for j in range(i, i + n):
                covered[j] = True
        seen.add(gram)
    return sum(len(w) for w, c in zip(words, covered) if c) / total


def gopher_repetition(doc: Doc, cfg: GopherRepetitionConfig) -> tuple[dict[str, float], str | None]:
    para_frac, para_char = _dup_stats(doc.paragraphs)
    line_frac, line_char = _dup_stats(doc.lines)
    sig = {"gr_dup_para_frac": para_frac, "gr_dup_para_char_frac": para_char,
           "gr_dup_line_frac": line_frac, "gr_dup_line_char_frac": line_char}
    for value, limit, reason in ((para_frac, cfg.dup_para_frac, "dup_para_frac"),
                                 (para_char, cfg.dup_para_char_frac, "dup_para_char_frac"),
                                 (line_frac, cfg.dup_line_frac, "dup_line_frac"),
                                 (line_char, cfg.dup_line_char_frac, "dup_line_char_frac")):
        if value > limit:
            return sig, reason
    words = [w.lower() for w in doc.words]
    for n, limit in sorted(cfg.top_n_grams.items()):
        frac = _top_ngram_char_frac(words, int(n))
        sig[f"gr_top_{n}_gram"] = frac
        if frac > limit:
            return sig, f"top_{n}_gram"
    for n, limit in sorted(cfg.dup_n_grams.items()):
        frac = _dup_ngram_char_frac(words, int(n))
        sig[f"gr_dup_{n}_gram"] = frac
        if frac > limit:
            return sig, f"dup_{n}_gram"
    return sig, None
