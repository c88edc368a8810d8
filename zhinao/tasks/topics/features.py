"""Text as the fastText topic classifier sees it, in training and in inference alike: lowercase,
CJK characters as separate tokens (word bigrams then cover Chinese character bigrams), punctuation
and line breaks as spaces, digits folded to 0."""
from __future__ import annotations

import re

_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_DIGIT = re.compile(r"\d")


def classifier_text(text: str | None, max_chars: int = 2000) -> str:
    t = (text or "")[:max_chars].lower()
    t = _PUNCT.sub(" ", t)
    t = _CJK.sub(r" \1 ", t)
    t = _DIGIT.sub("0", t)
    return " ".join(t.split())
