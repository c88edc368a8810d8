"""Turn WARC records, JSONL lines and Parquet rows into documents, or into a drop reason."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from ..schema import extend
from .charset import decode_html, is_binary
from .checks import BadRecord, source_value
from .http import BadHttp, parse_response
from .warc import WarcRecord

SCHEMA = extend(
    ("html", pa.string()),            # kept for the extraction stage
    ("content_type", pa.string()),
    ("charset", pa.string()),
    ("charset_method", pa.string()),
    ("charset_confidence", pa.float32()),   # 1 for a declared or strict decode; see charset.plausibility
    ("lang_declared", pa.string()),
    ("http_status", pa.int32()),
    ("warc_record_id", pa.string()),
    ("warc_type", pa.string()),
    ("record_offset", pa.int64()),
    ("raw_bytes", pa.int64()),
)
# a dropped record also says where it was in its file ('line 3', 'row 7', 'offset 1024') and, for a
# bad value or an unreadable file, what was wrong
AUDIT_SCHEMA = pa.schema([*SCHEMA, pa.field("drop_reason", pa.string()), pa.field("location", pa.string()),
                          pa.field("drop_detail", pa.string())])

# JSONL/Parquet: which source field feeds each document column (overridable per field)
DEFAULT_FIELDS = {"text": "text", "url": "url", "id": "id", "timestamp": "timestamp", "lang": "lang"}

_HTML_LANG = re.compile(rb"""<html[^>]*?\blang\s*=\s*["']?([A-Za-z]{2,3})""", re.I)


def doc_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:20]


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def primary_lang(tag: str | None) -> str | None:
    if not tag:
        return None
    return tag.strip().split(",")[0].split("-")[0].split("_")[0].lower() or None


def _base(rec: WarcRecord, source: str) -> dict[str, Any]:
    h = rec.headers
    url = h.get("warc-target-uri", "").strip().strip("<>")   # some crawlers wrap the URI in <>
    rid = h.get("warc-record-id", "").strip("<>")
    return {
        "id": doc_id(source, rid or url, str(rec.offset)), "url": url or None, "source": source,
        "timestamp": parse_date(h.get("warc-date")), "warc_record_id": rid or None,
        "warc_type": rec.type, "record_offset": rec.offset, "raw_bytes": rec.length,
    }


def from_warc(rec: WarcRecord, source: str, max_bad_ratio: float) -> tuple[dict[str, Any], str | None]:
    """(document, None) for a usable record, else (partial row, drop reason)."""
    doc = _base(rec, source)
    if rec.payload is None:
        return doc, "oversize"
    if rec.type == "conversion":  # WET: already text
        text, reason = _decode_text(rec.payload, max_bad_ratio)
        doc |= {"text": text, "content_type": rec.headers.get("content-type", "text/plain"), "charset": "utf-8",
                "charset_method": "wet", "charset_confidence": 1.0,
                "lang": primary_lang(rec.headers.get("warc-identified-content-language"))}
        return doc, reason
    if rec.type == "response":
        try:
            resp = parse_response(rec.payload)
        except BadHttp:
            return doc, "bad_http"
        status, ctype, body = resp.status, resp.headers.get("content-type"), resp.body
        declared_lang = resp.headers.get("content-language")
        doc["http_status"] = status
        if status != 200:
            return doc, "http_status"
    else:  # resource
        ctype, body, declared_lang = rec.headers.get("content-type"), rec.payload, None
    doc["content_type"] = ctype
    if not body.strip():
        return doc, "empty_body"
    if is_binary(body, ctype):
        return doc, "binary_body"
    decoded = decode_html(body, ctype)
    doc |= {"charset": decoded.charset, "charset_method": decoded.method, "charset_confidence": decoded.confidence}
    if decoded.bad_ratio > max_bad_ratio:
        return doc, "undecodable"
    m = _HTML_LANG.search(body[:8192])
    lang = primary_lang(m.group(1).decode("ascii") if m else declared_lang)
    doc |= {"html": decoded.text, "text": "", "lang": lang, "lang_declared": lang}
    return doc, None


def _decode_text(payload: bytes, max_bad_ratio: float) -> tuple[str, str | None]:
    text = payload.decode("utf-8", "replace")
    if not text.strip():
        return text, "empty_body"
    if text.count("\ufffd") / max(1, len(text)) > max_bad_ratio:
        return text, "undecodable"
    return text, None


def from_mapping(row: dict[str, Any], source: str, index: int, fields: dict[str, str],
                 max_bad_ratio: float) -> tuple[dict[str, Any], str | None]:
    """A JSONL line or Parquet row; `fields` maps our column names to the source's. A field of the
    wrong type drops the record as 'bad_field_type', naming the field (`drop_detail`)."""
    fields = DEFAULT_FIELDS | fields
    value: dict[str, Any] = {}
    bad = None
    for column in DEFAULT_FIELDS:
        try:
            value[column] = source_value(row, column, fields[column])
        except BadRecord as e:      # the others still name the dropped record
            value[column], bad = None, bad or e
    text, rid, ts = value["text"], value["id"], value["timestamp"]
    doc: dict[str, Any] = {
        "id": str(rid) if rid is not None else doc_id(source, str(index)), "url": value["url"], "source": source,
        "timestamp": parse_date(str(ts)) if ts else None, "record_offset": index,
    }
    if bad is not None:
        return doc | {"drop_detail": bad.detail}, bad.reason
    if isinstance(text, bytes):
        text, reason = _decode_text(text, max_bad_ratio)
        if reason:
            return doc, reason
    if not text or not text.strip():
        return doc, "empty_body"
    if text.count("\ufffd") / len(text) > max_bad_ratio:
        return doc, "undecodable"
    lang = primary_lang(value["lang"])
    # surrogatepass: a lone surrogate is dropped by the row check (checks.py), not here
    doc |= {"text": text, "raw_bytes": len(text.encode("utf-8", "surrogatepass")), "lang": lang,
            "lang_declared": lang}
    return doc, None
