"""Decode HTML bytes: BOM, then HTTP header charset, then <meta> charset, then UTF-8, then weighing.

GB2312 and GBK are read as GB18030 (a strict superset: pages labelled gb2312 routinely contain GBK
characters), EUC-KR as windows-949, and latin-1/ascii labels as windows-1252, as browsers do (WHATWG
encoding standard).

Weighing: the guesser (charset-normalizer) only considers encodings that decode its sample without
an error, so two bad bytes in a GB2312 page shut out every CJK encoding and it picks some single-byte
code page that turns the page into Cyrillic or Latin garbage with not one replaced character. So the
guess competes with the declared charset and the common web encodings, each decoded leniently, on
how plausible the text looks (`plausibility`).
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from charset_normalizer import from_bytes

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("charset-normalizer",)}

_META = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "cp936": "gb18030",
    "euc-cn": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "big5": "big5hkscs", "utf8": "utf-8", "shift_jis": "cp932", "sjis": "cp932",
    "euc-kr": "cp949", "euc_kr": "cp949", "ks_c_5601-1987": "cp949",
}
_BOMS = [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]

_SAMPLE_BYTES = 1 << 16     # what the guesser reads and the candidates are weighed on
_TIE = 0.05                 # plausibility within this of the best counts as a tie
# The encodings of nearly all undeclared non-UTF-8 pages, and the scripts (first word of the Unicode
# character name) their text is written in; None: whatever script the text is mostly in. On a near
# tie the first wins: Korean read as GB18030 is common Han, Chinese read as cp949 no Korean at all.
_WRITES: dict[str, tuple[str, ...] | None] = {
    "utf-8": None, "cp949": ("HANGUL",), "gb18030": ("CJK", "FULLWIDTH"),
    "big5hkscs": ("CJK", "BOPOMOFO", "FULLWIDTH"), "cp932": ("CJK", "HIRAGANA", "KATAKANA", "FULLWIDTH"),
    "cp1252": ("LATIN",),
}
_SYSTEMS = [s for s in _WRITES.values() if s]
# Level 1 of each national standard (lead-byte range): the Han characters of nearly all running
# text. UTF-8 read as GBK (浣犲ソ) or GB2312 read as Big5 decode cleanly, but into level 2 and beyond.
_HAN_LEVEL1 = {"gb18030": ("gb2312", 0xB0, 0xD7), "big5hkscs": ("big5", 0xA4, 0xC6), "cp932": ("cp932", 0x88, 0x98)}
_UNSPACED = {"CJK", "HIRAGANA", "KATAKANA", "BOPOMOFO", "THAI", "LAO", "KHMER", "MYANMAR"}
# Non-ASCII letters in a row. Scripts written with spaces have words, and Western European words
# only a few accented letters each: a long run of them is a multibyte page read as single bytes.
_MAX_RUN = {"LATIN": 4}
_MAX_RUN_OTHER = 30
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@dataclass
class Decoded:
    text: str
    charset: str            # the codec used
    declared: str | None    # what the page said (header or meta), normalised
    method: str             # bom | header | meta | utf-8 (all strict) | guess | weighed (see module doc)
    bad_ratio: float        # share of characters that had to be replaced
    confidence: float = 1.0  # 1 for BOM and strict declared / UTF-8 decodes, else the plausibility


def normalize(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not info._is_text_encoding:  # charset=base64 or rot13: no decoding of bytes to text
        return None
    return info.name if label not in ("gb18030", "cp1252") else label


def header_charset(content_type: str | None) -> str | None:
    m = _HEADER_CHARSET.search(content_type or "")
    return normalize(m.group(1)) if m else None


def meta_charset(body: bytes) -> str | None:
    m = _META.search(body[:4096])
    return normalize(m.group(1).decode("ascii", "ignore")) if m else None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = body[len(bom):].decode(codec, "replace")
            return Decoded(text, codec, codec, "bom", _bad_ratio(text))
    declared_header, declared_meta = header_charset(content_type), meta_charset(body)
    declared = declared_header or declared_meta
    for codec, method in ((declared_header, "header"), (declared_meta, "meta"), ("utf-8", "utf-8")):
        if codec and (text := _strict(body, codec)) is not None:
            return Decoded(text, codec, declared, method, 0.0)
    sample = body[:_SAMPLE_BYTES]
    guess = _guess(sample)
    # on a near tie the page's own label wins, then the guess, then the commoner encoding
    order = list(dict.fromkeys(c for c in (declared, guess, *_WRITES) if c))
    scores = {c: plausibility(sample.decode(c, "replace"), c) for c in order}
    top = max(scores.values())
    codec = next(c for c in order if scores[c] >= top - _TIE)
    text = body.decode(codec, "replace")
    return Decoded(text, codec, declared, "guess" if codec == guess else "weighed", _bad_ratio(text),
                   round(max(0.0, scores[codec]), 3))


def _bad_ratio(text: str) -> float:
    return text.count("\ufffd") / max(1, len(text))


def _guess(sample: bytes) -> str | None:
    """charset-normalizer's pick. Among encodings it scores exactly alike, or that give the very same
    text, it names one in no useful order (cp1250 for a French page with much markup), so a common
    one goes first."""
    matches = from_bytes(sample)
    best = matches.best()  # None when no encoding reads as coherent text
    if best is None:
        return None
    tied = [normalize(e) for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)
            for e in m.could_be_from_charset]
    return next((c for c in tied if c in _WRITES), normalize(best.encoding))


@lru_cache(maxsize=1 << 16)
def _script(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ", 1)[0].split("-", 1)[0]


@lru_cache(maxsize=1 << 16)
def _common_han(ch: str, codec: str) -> bool:
    for std, lo, hi in [_HAN_LEVEL1[codec]] if codec in _HAN_LEVEL1 else _HAN_LEVEL1.values():
        try:
            encoded = ch.encode(std)
        except UnicodeEncodeError:
            continue
        if len(encoded) == 2 and lo <= encoded[0] <= hi:
            return True
    return False


def plausibility(text: str, codec: str) -> float:
    """How much the non-ASCII text looks like real writing in `codec`'s scripts, from 1 down to
    below 0: punctuation and spaces count for any script, letters when in an expected script (Han
    only if common, alphabets only in word-sized runs), replaced, control, private-use and
    unassigned characters against. Symbols, numbers and other scripts count for nothing."""
    fit: Counter[str] = Counter()
    total = neutral = bad = 0
    for run in _NON_ASCII.findall(text):
        total += len(run)
        for ch in run:
            cat = unicodedata.category(ch)
            if ch == "\ufffd" or cat[0] == "C":
                bad += 1
            elif cat[0] in "PZ":
                neutral += 1
            elif cat[0] in "LM":
                script = _script(ch)
                worded = script in _UNSPACED or len(run) <= _MAX_RUN.get(script, _MAX_RUN_OTHER)
                if worded and (script != "CJK" or _common_han(ch, codec)):
                    fit[script] += 1
    if not total:
        return 1.0
    scripts = _WRITES.get(codec)
    systems = [scripts] if scripts else _SYSTEMS + [(s,) for s in fit]
    best = max(sum(fit[s] for s in system) for system in systems)
    return (neutral + best - bad) / total


def is_binary(body: bytes, content_type: str | None) -> bool:
    """Images, archives, PDFs ... or bytes that are plainly not text (NULs in the first KiB)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and not (ctype.startswith("text/") or "html" in ctype or "xml" in ctype or ctype == "application/json"):
        return True
    head = body[:1024]
    return head.count(b"\x00") > 4 and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
