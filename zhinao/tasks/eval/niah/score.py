"""Offline scoring, no judge model: exact match after normalisation, else the item's regex, else
1 - normalised edit distance between the answer and the best-matching window of the response.

`found` is score >= 0.9 by default: a 7-digit value with one wrong digit scores 1 - 1/7 = 0.86 and
must not count as found, while a 50-character fact answer may still differ in a few characters
(a dropped article, a typo) and count."""
from __future__ import annotations

import re
import unicodedata

THRESHOLD = 0.9
MAX_RESPONSE_CHARS = 4000       # the fuzzy search is O(answer x response); answers come early anyway
_DIGIT_GROUP_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_SPACE_RE = re.compile(f"(?<=[{_CJK}]) | (?=[{_CJK}])")


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), lower case, digit-group commas dropped (1,234,567),
    punctuation and symbols made spaces, whitespace collapsed, and no spaces next to CJK characters
    (Chinese does not separate words)."""
    text = _DIGIT_GROUP_RE.sub("", unicodedata.normalize("NFKC", text).lower())
    text = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in text)
    return _CJK_SPACE_RE.sub("", " ".join(text.split()))


def best_window_distance(needle: str, text: str) -> int:
    """The least Levenshtein distance between `needle` and any substring of `text` (Sellers: the
    match may start and end anywhere in `text` at no cost)."""
    if not needle:
        return 0
    prev = [0] * (len(text) + 1)            # row 0: the empty needle matches anywhere for free
    for i, a in enumerate(needle, 1):
        cur = [i] + [0] * len(text)
        for j, b in enumerate(text, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b))
        prev = cur
    return min(prev)


def score_response(response: str, answer: str, pattern: str | None = None,
                   threshold: float = THRESHOLD) -> dict:
    """{score in [0, 1], found, method: "exact" | "pattern" | "fuzzy"}."""
    resp, ans = normalize(response or ""), normalize(answer)
    if resp == ans:
        return {"score": 1.0, "found": True, "method": "exact"}
    if pattern and re.search(pattern, resp, re.IGNORECASE):
        return {"score": 1.0, "found": True, "method": "pattern"}
    resp = resp[:MAX_RESPONSE_CHARS]
    score = 1.0 if ans in resp else max(0.0, 1 - best_window_distance(ans, resp) / max(len(ans), 1))
    return {"score": round(score, 4), "found": score >= threshold, "method": "fuzzy"}


def score_items(items: list[dict], responses, threshold: float = THRESHOLD) -> list[dict]:
    """Each item (prompt dropped) with its response and score fields; `responses`: {id: text} or a
    list in the items' order. An item without a response scores 0."""
    if not isinstance(responses, dict):
        responses = {item["id"]: r for item, r in zip(items, responses, strict=True)}
    out = []
    for item in items:
        response = responses.get(item["id"]) or ""
        row = {k: v for k, v in item.items() if k != "prompt"}
        out.append(row | {"response": response} | score_response(response, item["answer"], item.get("pattern"),
                                                                   threshold))
    return out
