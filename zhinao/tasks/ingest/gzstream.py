"""Decompressed bytes from plain, gzip or multi-member gzip files, surviving damaged members.

Common Crawl compresses each WARC record as its own gzip member, so a corrupt member costs one
record: we resynchronise at the next gzip header and tell the reader where bytes were lost.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

GZIP_MAGIC = b"\x1f\x8b\x08"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Gap:
    """Marks lost bytes in the stream: 'corrupt_gzip' (resumed at the next member) or
    'truncated_gzip' (the file ends inside a member)."""
    reason: str
    offset: int            # compressed offset where the damaged member starts


def is_gzip(fh: BinaryIO) -> bool:
    pos = fh.tell()
    head = fh.read(3)
    fh.seek(pos)
    return head == GZIP_MAGIC


def _find_magic(fh: BinaryIO, start: int) -> int | None:
    """Offset of the next gzip member header at or after `start`."""
    fh.seek(start)
    offset, tail = start, b""
    while True:
        data = fh.read(CHUNK)
        if not data:
            return None
        window = tail + data
        i = window.find(GZIP_MAGIC)
        if i >= 0:
            return offset - len(tail) + i
        tail = window[-2:]
        offset += len(data)


def iter_chunks(fh: BinaryIO) -> Iterator[bytes | Gap]:
    if not is_gzip(fh):
        while data := fh.read(CHUNK):
            yield data
        return
    member_start = fh.tell()
    d = zlib.decompressobj(31)
    buf_offset, buf = member_start, b""
    while True:
        if not buf:
            buf = fh.read(CHUNK)
            if not buf:
                break
        try:
            out = d.decompress(buf)
        except zlib.error:
            yield Gap("corrupt_gzip", member_start)
            nxt = _find_magic(fh, member_start + 1)
            if nxt is None:
                return
            member_start = buf_offset = nxt
            fh.seek(nxt)
            d, buf = zlib.decompressobj(31), b""
            continue
        if out:
            yield out
        if d.eof:
            consumed = len(buf) - len(d.unused_data)
            member_start = buf_offset = buf_offset + consumed
            buf = d.unused_data
            d = zlib.decompressobj(31)
            if buf and not buf.startswith(GZIP_MAGIC[: len(buf)]):
                # bytes between members that are not a gzip header: skip to the next header
                nxt = _find_magic(fh, member_start)
                if nxt is None:
                    return
                yield Gap("corrupt_gzip", member_start)
                member_start = buf_offset = nxt
                fh.seek(nxt)
                buf = b""
        else:
            buf_offset += len(buf)
            buf = b""
    if buf_offset > member_start:  # input was consumed into a member that never ended
        yield Gap("truncated_gzip", member_start)
