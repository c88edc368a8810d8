"""Streaming WARC record parser that counts and skips malformed records instead of failing."""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from .gzstream import iter_chunks
from .http import body_start
from .reader import ByteReader, GapError

MAX_HEADER_BYTES = 64 << 10
# WARC/1.0 and 1.1, and the 0.17 / 0.18 drafts (Heritrix 1.x, ClueWeb09) with the same record layout
_VERSION_LINE = rb"WARC/(1\.[0-9]|0\.1[78])[ \t]*\r?(?:\n|\Z)"
RECORD_START = re.compile(_VERSION_LINE)
NEXT_RECORD = re.compile(rb"\n" + _VERSION_LINE)
LEGACY_DIGEST = "legacy_digest_mismatch"


@dataclass
class WarcRecord:
    headers: dict[str, str]          # lower-cased names
    payload: bytes | None            # None when skipped for size
    length: int                      # declared Content-Length
    offset: int                      # decompressed offset of the record start
    version: str = "1.0"             # from the version line: 1.0, 1.1, 0.18, 0.17
    quirk: str | None = None         # a known format quirk the record was kept despite

    @property
    def type(self) -> str:
        return self.headers.get("warc-type", "").lower()


@dataclass
class Malformed:
    reason: str
    offset: int
    headers: dict[str, str] = field(default_factory=dict)


def _parse_headers(reader: ByteReader) -> dict[str, str] | None:
    """Header block after the version line; None when it is not a valid block."""
    block = reader.read_head(MAX_HEADER_BYTES)
    if block is None:
        return None
    headers: dict[str, str] = {}
    last = None
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line.strip():
            continue
        if line[0] in " \t" and last:  # folded continuation line
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name:
            return None
        last = name.lower()
        headers[last] = value.strip()
    return headers


def iter_records(fh: BinaryIO, max_payload: int, wanted: frozenset[str] | None = None,
                 verify: bool = True) -> Iterator[WarcRecord | Malformed]:
    """Every record of a WARC stream. Payloads of records whose type is not `wanted` are skipped
    unread; payloads over `max_payload` bytes are skipped and the record yielded with payload None.
    With `verify`, a record whose block or payload digest does not match is reported as truncated
    (a clipped record, which warcio and fastwarc pass on silently), except in pre-1.0 files: their
    crawlers wrote digests that match nothing, so a record there that is complete (all its bytes,
    then the record terminator) is kept with `quirk` set."""
    reader = ByteReader(iter_chunks(fh))
    while True:
        offset = reader.consumed
        headers: dict[str, str] | None = {}
        try:
            line = reader.readline(MAX_HEADER_BYTES)
            while line is not None and not line.strip():     # blank lines between records
                offset = reader.consumed
                line = reader.readline(MAX_HEADER_BYTES)
            if line is None:
                return
            version = RECORD_START.match(line)
            headers = _parse_headers(reader) if version else None
            length = _content_length(headers)
            if headers is None or length is None:
                yield Malformed("bad_header", offset, headers or {})
                if not _resync(reader):
                    return
                continue
            rtype = headers.get("warc-type", "").lower()
            if (wanted is not None and rtype not in wanted) or length > max_payload:
                got = reader.skip(length)
                payload = None
            else:
                payload = reader.read(length)
                got = len(payload)
            if got < length:
                yield Malformed("truncated_record", offset, headers)
                return
            end = _record_end(reader, payload)
            number = version.group(1).decode()
            bad_digest = end != "overrun" and verify and payload is not None and not digest_ok(headers, payload)
            # only a record shown complete by its terminator can be told from a clipped one
            quirk = LEGACY_DIGEST if bad_digest and number.startswith("0.") and end == "complete" else None
            if end == "overrun" or (bad_digest and quirk is None):
                yield Malformed("truncated_record", offset, headers)
                continue
            yield WarcRecord(headers, payload, length, offset, number, quirk)
        except GapError as err:
            gap = reader.skip_gap()
            yield Malformed(err.gap.reason, offset, headers or {})
            if gap is not None and gap.reason == "truncated_gzip":
                return
        except ValueError:  # a line longer than any header could be
            yield Malformed("bad_header", offset)
            if not _resync(reader):
                return


def _resync(reader: ByteReader) -> bool:
    """Skip to the next line that is a version line we read (kept unread); False at end of stream."""
    while reader.resync(b"\nWARC/"):
        reader.read(1)
        if RECORD_START.match(reader.peek(16)):
            return True
    return False


def _content_length(headers: dict[str, str] | None) -> int | None:
    if headers is None:
        return None
    try:
        n = int(headers.get("content-length", ""))
    except ValueError:
        return None
    return n if n >= 0 else None


def _record_end(reader: ByteReader, payload: bytes | None) -> str:
    """What follows the record's bytes: 'complete' (the CRLFCRLF terminator, consumed), 'overrun' (the
    record was cut short when written: it declares more bytes than it has, so its payload swallowed
    the start of the next record; those bytes are given back) or 'open' (neither: the end of the
    stream, stray bytes, or a payload that was skipped unread)."""
    after = reader.peek(4)
    if after == b"\r\n\r\n":
        reader.skip(4)
        return "complete"
    if not after or payload is None:
        return "open"
    m = NEXT_RECORD.search(payload + reader.peek(16))
    if m is None or m.start() >= len(payload):
        return "open"
    reader.rewind(len(payload) - m.start() - 1)
    return "overrun"


def _digest_matches(spec: str, data: bytes) -> bool:
    algo, _, value = spec.strip().partition(":")
    if algo.lower() != "sha1" or not value:
        return True  # an algorithm we do not check
    digest = hashlib.sha1(data).digest()
    value = value.strip()
    if len(value) == 40:
        return digest.hex() == value.lower()
    return base64.b32encode(digest).decode() == value.upper()


def digest_ok(headers: dict[str, str], block: bytes) -> bool:
    """The payload digest (the bytes after the HTTP head) protects the content, so it is checked
    where present; the block digest otherwise. Revisit records point at another record's payload
    and are never checked."""
    rtype = headers.get("warc-type")
    if rtype == "revisit":
        return True
    if "warc-payload-digest" in headers and rtype == "response":
        start = body_start(block)
        return start is None or _digest_matches(headers["warc-payload-digest"], block[start:])
    if "warc-block-digest" in headers:
        return _digest_matches(headers["warc-block-digest"], block)
    return True
