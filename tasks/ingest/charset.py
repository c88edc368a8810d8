"""Decode HTML bytes: BOM, then HTTP header charset, then <meta> charset, then UTF-8, then a guess.

GB2312 and GBK are read as GB18030 (a strict superset: pages labelled gb2312 routinely contain GBK
characters), and latin-1/ascii labels as windows-1252, as browsers do (WHATWG encoding standard).
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_META = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "cp936": "gb18030",
    "euc-cn": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "big5": "big5hkscs", "utf8": "utf-8", "shift_jis": "cp932", "sjis": "cp932",
}
_BOMS = [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]


@dataclass
class Decoded:
    text: str
    charset: str            # the codec used
    declared: str | None    # what the page said (header or meta), normalised
    method: str             # bom | header | meta | utf-8 | guess | replace
    bad_ratio: float        # share of characters that had to be replaced


def normalize(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name if label not in ("gb18030", "cp1252") else label
    except LookupError:
        return None


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
            return Decoded(text, codec, codec, "bom", text.count("\ufffd") / max(1, len(text)))
    declared_header, declared_meta = header_charset(content_type), meta_charset(body)
    declared = declared_header or declared_meta
    for codec, method in ((declared_header, "header"), (declared_meta, "meta"), ("utf-8", "utf-8")):
        if codec and (text := _strict(body, codec)) is not None:
            return Decoded(text, codec, declared, method, 0.0)
    best = from_bytes(body[: 1 << 16]).best()  # None when no encoding reads as coherent text
    guess = normalize(best.encoding) if best is not None else None
    if guess and (text := _strict(body, guess)) is not None:
        return Decoded(text, guess, declared, "guess", 0.0)
    codec = declared or guess or "utf-8"
    text = body.decode(codec, "replace")
    return Decoded(text, codec, declared, "replace", text.count("\ufffd") / max(1, len(text)))


def is_binary(body: bytes, content_type: str | None) -> bool:
    """Images, archives, PDFs ... or bytes that are plainly not text (NULs in the first KiB)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and not (ctype.startswith("text/") or "html" in ctype or "xml" in ctype or ctype == "application/json"):
        return True
    head = body[:1024]
    return head.count(b"\x00") > 4 and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
