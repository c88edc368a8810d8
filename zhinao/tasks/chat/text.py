"""Text units for chat items in Chinese and English alike: each Han (or kana) character is a unit,
elsewhere a lowercase run of letters and digits. Self-instruct's Chinese ports compare characters
and English ROUGE-L compares words; this does both, on mixed text too, and counts response lengths
in the same units (roughly tokens: a BPE vocabulary spends about one token on a Chinese character or
an English word)."""
from __future__ import annotations

import re

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNITS = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def units(text: str | None) -> list[str]:
    return _UNITS.findall((text or "").lower())


def han_share(text: str) -> float:
    """Share of the non-space characters that are Han."""
    chars = sum(not c.isspace() for c in text)
    return len(_HAN.findall(text)) / chars if chars else 0.0
