"""Read what was appended to a text file since the last read, whole lines only (a line still being
written waits for the next read). A file rewritten in between (a resumed run cuts its metrics back to
the checkpoint) is noticed, because the last line read is no longer where it was, and read again
from the top."""
from __future__ import annotations

from pathlib import Path


class LineTail:
    def __init__(self, path: Path):
        self.path, self.offset, self.last_line = Path(path), 0, b""

    def read(self) -> list[str]:
        """The complete lines added since the last call (all of them after a rewrite)."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset - len(self.last_line))
                if fh.read(len(self.last_line)) != self.last_line:
                    self.offset = 0
                    fh.seek(0)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        if complete:
            self.last_line = complete[complete.rstrip(b"\n").rfind(b"\n") + 1:]
        return complete.decode(errors="replace").splitlines()
