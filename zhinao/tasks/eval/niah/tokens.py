"""Token counting for haystack lengths: any `count_tokens(str) -> int`, an HF tokenizer, or an
approximation when no tokenizer is given.

The approximation: each CJK character (Han, kana, hangul, full-width forms) counts 1, each Latin word
or number (a run of letters/digits) 1.3, each other visible symbol (punctuation) 1, rounded up. It
leans high for English BPE vocabularies (~1.3 tokens a word is the usual rule of thumb), so contexts
built with it tend to fit a real tokenizer's budget rather than overflow it."""
from __future__ import annotations

import math
import re
from typing import Callable

Counter = Callable[[str], int]

_CJK = r"\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_CJK_RE = re.compile(f"[{_CJK}]")
_WORD_RE = re.compile(f"[^\\W_{_CJK}]+")     # letters/digits that are not CJK
_SYMBOL_RE = re.compile(f"[^\\w\\s{_CJK}]|_")


def approx_tokens(text: str) -> int:
    cjk = len(_CJK_RE.findall(text))
    words = len(_WORD_RE.findall(text))
    symbols = len(_SYMBOL_RE.findall(text))
    return math.ceil(cjk + 1.3 * words + symbols)


def token_counter(tokenizer=None) -> Counter:
    """A counter from None (the approximation), an object with `encode` (HF `transformers` or
    `tokenizers` tokenizer; special tokens are not counted), or a plain callable returning an int."""
    if tokenizer is None:
        return approx_tokens
    if hasattr(tokenizer, "encode"):
        def count(text: str) -> int:
            encoded = tokenizer.encode(text, add_special_tokens=False)
            return len(encoded.ids) if hasattr(encoded, "ids") else len(encoded)
        return count
    if callable(tokenizer):
        return lambda text: int(tokenizer(text))
    raise TypeError(f"cannot count tokens with {type(tokenizer).__name__}: give a callable or a tokenizer")
