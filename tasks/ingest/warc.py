"""Streaming WARC record parser that counts and skips malformed records instead of failing."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from .gzstream import iter_chunks
from .reader import ByteReader, GapError

MAX_HEADER_BYTES = 64 << 10
RECORD_START = b"WARC/1."


@dataclass
class WarcRecord:
    headers: dict[str, str]          # lower-cased names
    payload: bytes | None            # None when skipped for size
    length: int                      # declared Content-Length
    offset: int                      # decompressed offset of the record start

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
    (a clipped record, which warcio and fastwarc pass on silently)."""
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
            if not line.startswith(RECORD_START):
                yield Malformed("bad_header", offset)
                if not reader.resync(b"\n" + RECORD_START):
                    return
                reader.read(1)
                continue
            headers = _parse_headers(reader)
            length = _content_length(headers)
            if headers is None or length is None:
                yield Malformed("bad_header", offset, headers or {})
                if not reader.resync(b"\n" + RECORD_START):
                    return
                reader.read(1)
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
            if _runs_into_next(reader, payload) or (verify and payload is not None
                                                    and not digest_ok(headers, payload)):
                yield Malformed("truncated_record", offset, headers)
                continue
            yield WarcRecord(headers, payload, length, offset)
        except GapError as err:
            gap = reader.skip_gap()
            yield Malformed(err.gap.reason, offset, headers or {})
            if gap is not None and gap.reason == "truncated_gzip":
                return
        except ValueError:  # a line longer than any header could be
            yield Malformed("bad_header", offset)
            if not reader.resync(b"\n" + RECORD_START):
                return
            reader.read(1)


def _content_length(headers: dict[str, str] | None) -> int | None:
    if headers is None:
        return None
    try:
        n = int(headers.get("content-length", ""))
    except ValueError:
        return None
    return n if n >= 0 else None


def _runs_into_next(reader: ByteReader, payload: bytes | None) -> bool:
    """A record cut short when written declares more bytes than it has, so its payload swallows the
    start of the next record. Spot it by the missing CRLFCRLF terminator and give the bytes back."""
    after = reader.peek(4)
    if after == b"\r\n\r\n":
        reader.skip(4)  # the record terminator
        return False
    if not after or payload is None:
        return False
    cut = (payload + reader.peek(len(RECORD_START) + 2)).find(b"\n" + RECORD_START)
    if cut < 0 or cut >= len(payload):
        return False
    reader.rewind(len(payload) - cut - 1)
    return True


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
        end = block.find(b"\r\n\r\n")
        return end < 0 or _digest_matches(headers["warc-payload-digest"], block[end + 4:])
    if "warc-block-digest" in headers:
        return _digest_matches(headers["warc-block-digest"], block)
    return True
