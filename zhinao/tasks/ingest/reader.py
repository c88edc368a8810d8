"""A byte reader over decompressed chunks that refuses to read across a gap of lost bytes."""
from __future__ import annotations

from typing import Iterator

from .gzstream import Gap


class GapError(Exception):
    def __init__(self, gap: Gap):
        super().__init__(gap.reason)
        self.gap = gap


class ByteReader:
    def __init__(self, chunks: Iterator[bytes | Gap]):
        self._chunks = chunks
        self._buf = bytearray()
        self._pos = 0
        self._gap: Gap | None = None      # lost bytes right after the buffered data
        self._eof = False
        self._keep = 0                    # buffer index from which bytes stay (for rewind)
        self.consumed = 0                 # decompressed bytes consumed so far

    def _pull(self) -> bool:
        """Append one more chunk to the buffer; False at end of stream."""
        if self._gap is not None:
            raise GapError(self._gap)
        if self._eof:
            return False
        cut = min(self._pos, self._keep)
        if cut > (1 << 22):  # drop consumed bytes now and then, keeping memory flat
            del self._buf[:cut]
            self._pos -= cut
            self._keep -= cut
        try:
            item = next(self._chunks)
        except StopIteration:
            self._eof = True
            return False
        if isinstance(item, Gap):
            self._gap = item
            raise GapError(item)
        self._buf += item
        return True

    def skip_gap(self) -> Gap | None:
        """Discard what was buffered before a gap and continue after it."""
        gap, self._gap = self._gap, None
        self.consumed += len(self._buf) - self._pos
        self._buf.clear()
        self._pos = self._keep = 0
        return gap

    def available(self) -> int:
        return len(self._buf) - self._pos

    def readline(self, limit: int) -> bytes | None:
        """One line with its newline; None at end of stream; ValueError past `limit` bytes."""
        self._keep = start = self._pos
        while True:
            i = self._buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self._buf[self._pos : i + 1])
                self._pos = i + 1
                self.consumed += len(line)
                return line
            if len(self._buf) - self._pos > limit:
                raise ValueError("line too long")
            start = len(self._buf)
            if not self._pull():
                if self._pos == len(self._buf):
                    return None
                line = bytes(self._buf[self._pos :])
                self._pos = len(self._buf)
                self.consumed += len(line)
                return line

    def read_head(self, limit: int) -> bytes | None:
        """Bytes up to and including the next empty line (a header block); None at end of stream;
        ValueError past `limit` bytes."""
        self._keep = start = self._pos
        search = start
        while True:
            ends = [i + k for i, k in ((self._buf.find(b"\n\r\n", search), 3),
                                       (self._buf.find(b"\n\n", search), 2)) if i >= 0]
            if self._buf.startswith(b"\r\n", start) or self._buf.startswith(b"\n", start):
                ends.append(start + (2 if self._buf[start] == 13 else 1))     # empty block
            if ends:
                end = min(ends)
                block = bytes(self._buf[start:end])
                self._pos = end
                self.consumed += len(block)
                return block
            if len(self._buf) - start > limit:
                raise ValueError("header block too long")
            search = max(start, len(self._buf) - 2)
            if not self._pull():
                return None

    def read(self, n: int) -> bytes:
        """Exactly n bytes, or fewer at end of stream."""
        self._keep = self._pos
        while self.available() < n and self._pull():
            pass
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += len(out)
        self.consumed += len(out)
        return out

    def skip(self, n: int) -> int:
        """Discard n bytes without keeping them (oversize records); returns how many were skipped."""
        skipped = 0
        while skipped < n:
            self._keep = self._pos
            if self.available() == 0 and not self._pull():
                break
            take = min(n - skipped, self.available())
            self._pos += take
            skipped += take
        self.consumed += skipped
        return skipped

    def rewind(self, n: int) -> None:
        """Give back the last n bytes of the latest read (they are still buffered)."""
        if n > self._pos - self._keep:
            raise ValueError("cannot rewind past the latest read")
        self._pos -= n
        self.consumed -= n

    def peek(self, n: int) -> bytes:
        while self.available() < n and self._pull():
            pass
        return bytes(self._buf[self._pos : self._pos + n])

    def resync(self, marker: bytes) -> bool:
        """Skip forward to the next occurrence of `marker` (kept unread); False at end of stream."""
        while True:
            self._keep = self._pos
            i = self._buf.find(marker, self._pos)
            if i >= 0:
                self.consumed += i - self._pos
                self._pos = i
                return True
            keep = max(self._pos, len(self._buf) - len(marker) + 1)
            self.consumed += keep - self._pos
            self._pos = keep
            if not self._pull():
                return False
