"""HTTP response parsing for WARC response records: status, headers, de-chunked body."""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]     # lower-cased names
    body: bytes


class BadHttp(ValueError):
    pass


# the first empty line ends the head; old crawlers (WARC 0.18) kept servers' bare-LF line ends,
# so the first CRLFCRLF may lie in the body
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def body_start(block: bytes) -> int | None:
    """Offset of the body after the HTTP head; None when the head has no end."""
    m = _HEAD_END.search(block)
    return m.end() if m else None


def parse_response(block: bytes) -> HttpResponse:
    m = _HEAD_END.search(block)
    if m is None:
        raise BadHttp("no end of HTTP headers")
    head = block[: m.start()].decode("latin-1").splitlines()
    if not head or not head[0].startswith("HTTP/"):
        raise BadHttp("no HTTP status line")
    parts = head[0].split(None, 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError) as e:
        raise BadHttp(f"bad status line {head[0][:60]!r}") from e
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    body = block[m.end() :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = dechunk(body)
    encoding = headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "x-gzip", "deflate") and body[:2] in (b"\x1f\x8b", b"\x78\x9c", b"\x78\x01", b"\x78\xda"):
        try:
            body = zlib.decompressobj(47).decompress(body)  # 47: auto-detect gzip or zlib header
        except zlib.error:
            pass  # crawler already decoded it but kept the header; keep the bytes as they are
    return HttpResponse(status, headers, body)


def dechunk(body: bytes) -> bytes:
    """Undo chunked transfer encoding; bodies that only claim it are returned unchanged."""
    out, pos = bytearray(), 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return body
        try:
            size = int(body[pos:eol].split(b";")[0].strip(), 16)
        except ValueError:
            return body
        if size == 0:
            return bytes(out)
        start = eol + 2
        out += body[start : start + size]
        pos = start + size + 2
        if pos > len(body):
            return bytes(out)
