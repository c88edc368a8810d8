"""FineWeb rules (Penedo et al. 2024, as in datatrove), CJK-aware.

CJK changes: a "short line" is under `cjk_short_line_length` characters (a Chinese character carries
about as much as a 3-4 letter English word, so 30 Latin characters ~ 10 CJK characters); the newline
ratio divides by segmented words.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .text import TERMINAL_PUNCT, Doc


class FineWebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_punct_thr: float = Field(0.12, ge=0, le=1)
    short_line_thr: float = Field(0.67, ge=0, le=1)
    short_line_length: int = Field(30, ge=0)
    cjk_short_line_length: int = Field(10, ge=0)
    char_duplicates_ratio: float = Field(0.01, ge=0, le=1)
    new_line_ratio: float = Field(0.3, ge=0)       # newlines per word: may exceed 1


def fineweb(doc: Doc, cfg: FineWebConfig) -> tuple[dict[str, float], str | None]:
    lines = doc.lines
    if not lines:
        return {}, "empty"
    punct = sum(line.endswith(TERMINAL_PUNCT) for line in lines) / len(lines)
    short_len = cfg.cjk_short_line_length if doc.cjk else cfg.short_line_length
    short = sum(len(line) <= short_len for line in lines) / len(lines)
    seen: set[str] = set()
    dup_chars = 0
    for line in lines:
        if line in seen:
            dup_chars += len(line)
        seen.add(line)
    dup_ratio = dup_chars / max(1, sum(len(line) for line in lines))
    newline = doc.text.count("\n") / max(1, len(doc.words))
    sig = {"fw_line_punct_ratio": punct, "fw_short_line_ratio": short, "fw_char_dup_ratio": dup_ratio,
           "fw_new_line_ratio": newline}
    if punct < cfg.line_punct_thr:
        return sig, "line_punct_ratio"
    if short > cfg.short_line_thr:
        return sig, "short_line_ratio"
    if dup_ratio > cfg.char_duplicates_ratio:
        return sig, "char_dup_ratio"
    if newline > cfg.new_line_ratio:
        return sig, "new_line_ratio"
    return sig, None
