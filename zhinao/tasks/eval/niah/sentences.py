"""Sentence boundaries (English . ! ? before whitespace, Chinese 。！？ anywhere, line breaks) and
needle insertion at one of them."""
from __future__ import annotations

import bisect
import re

_CLOSE = re.escape("\"'”’」』）)]")
_BOUNDARY_RE = re.compile(f"[.!?][{_CLOSE}]*(?=\\s|$)|[。！？][{_CLOSE}]*|\\n+")


def boundaries(text: str) -> list[int]:
    """Offsets where a sentence may start: 0, after each sentence end (closing quotes included), and
    len(text); sorted, unique."""
    cuts = {0, len(text)}
    cuts.update(m.end() for m in _BOUNDARY_RE.finditer(text))
    return sorted(cuts)


def boundary_at_or_before(cuts: list[int], offset: int) -> int:
    return cuts[max(0, bisect.bisect_right(cuts, offset) - 1)]


def insert_at(text: str, offset: int, needle: str) -> tuple[str, int]:
    """`needle` inserted at `offset` with a space on either side where the neighbours are not already
    whitespace and not CJK (Chinese runs sentences together); returns (text, needle's offset)."""
    left, right = text[:offset], text[offset:]
    pad_left = " " if left and not left[-1].isspace() and not _is_cjk_end(left[-1]) else ""
    pad_right = " " if right and not right[0].isspace() and not _is_cjk_end(needle[-1]) else ""
    return left + pad_left + needle + pad_right + right, len(left) + len(pad_left)


def _is_cjk_end(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"
