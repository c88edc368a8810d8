"""Read one raw file's records (WARC, JSONL, Parquet, plain text) as documents or dropped rows, each with where
it was in the file; damage to part of a file costs that part (a record, a gzip member, a row group)."""
from __future__ import annotations

import itertools
import json
import zlib
from typing import Any, BinaryIO, Iterator

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from ..stats import StageStats
from .checks import detail
from .documents import DEFAULT_FIELDS, doc_id, from_mapping, from_warc
from .gzstream import Gap, iter_chunks
from .reader import ByteReader, GapError
from .warc import Malformed, iter_records

WARC_TYPES = frozenset({"response", "resource", "conversion"})
BINARY_SNIFF = 4096         # JSONL bytes looked at for binary content


class SourceError(ValueError):
    """A source the parameters cannot read (missing, unknown format, no text column): fails the run."""


class UnreadableFile(Exception):
    """A file whose content is not its format at all (binary bytes where JSON lines should be)."""


# What a file's content makes its reader raise; a lost connection or a missing file is not the
# content's fault: those still fail the attempt (and are retried where that can help).
CONTENT_ERRORS = (UnreadableFile, OSError, EOFError, zlib.error, pa.ArrowInvalid, pa.ArrowTypeError,
                  pa.ArrowNotImplementedError)
NOT_CONTENT = (ConnectionError, TimeoutError, FileNotFoundError, PermissionError, IsADirectoryError)
# pyarrow reports damaged bytes (thrift, ZSTD) and a failed S3 request alike as a bare OSError: the
# words tell them apart; an OSError with an errno came from the system (EIO, EMFILE ...), not the bytes
_TRANSIENT = ("aws error", "connect", "timed out", "timeout", "curl", "broken pipe", "reset by peer",
              "temporary failure", "throttl", "slow down", "service unavailable", "503", "500 internal")


def not_content(e: BaseException) -> bool:
    """Whether a reader's error is the machine's or the network's, not the file's: fail the attempt."""
    if isinstance(e, NOT_CONTENT):
        return True
    if isinstance(e, OSError) and not isinstance(e, (EOFError, UnreadableFile)):
        import gzip

        if isinstance(e, gzip.BadGzipFile):
            return False
        return e.errno is not None or any(w in str(e).lower() for w in _TRANSIENT)
    return False

Row = tuple[dict[str, Any], str | None]        # (document or dropped row, drop reason or None)


def records(split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[Row]:
    """Every record of the split's file, each with its `location` ('offset 1024', 'line 3', 'row 7')."""
    with fsspec.open(split["uri"], "rb") as fh:
        yield from READERS[split["format"]](fh, split, params, stats)


def _warc(fh: BinaryIO, split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[Row]:
    source = split["source"]
    for rec in iter_records(fh, params.max_record_bytes, WARC_TYPES, params.verify_digests):
        where = {"location": f"offset {rec.offset}"}
        if isinstance(rec, Malformed):
            rid = rec.headers.get("warc-record-id", "")
            yield {"id": None, "source": source, "record_offset": rec.offset, "warc_record_id": rid or None,
                   "url": rec.headers.get("warc-target-uri", "").strip("<>") or None} | where, rec.reason
            continue
        stats.observe("warc_type", rec.type)
        stats.observe("warc_version", rec.version)
        if rec.quirk:  # kept, but counted so a reader sees the file's digests were not checkable
            stats.count(f"quirk.{rec.quirk}")
        if rec.type == "resource" and not _is_web(rec.headers.get("warc-target-uri", "")):
            stats.count("non_web_resources")  # crawler logs and manifests (metadata://, dns:)
        elif rec.type in WARC_TYPES:
            yield _converted(where, from_warc, rec, source, params.max_bad_char_ratio)


def _jsonl(fh: BinaryIO, split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[Row]:
    source = split["source"]
    for i, line, reason in _lines(fh, params.max_record_bytes):
        where = {"source": source, "record_offset": i, "location": f"line {i + 1}"}
        if reason:
            yield where, reason
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            yield where, "bad_json"
            continue
        if not isinstance(row, dict):
            yield where, "bad_json"
            continue
        yield _converted(where, from_mapping, row, source, i, params.fields, params.max_bad_char_ratio)


def _parquet(fh: BinaryIO, split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[Row]:
    source = split["source"]
    pf = pq.ParquetFile(fh)
    text_field = (DEFAULT_FIELDS | params.fields)["text"]
    if text_field not in pf.schema_arrow.names:
        raise SourceError(f"{split['uri']}: Parquet source has no text column {text_field!r} "
                          f"(columns: {pf.schema_arrow.names}); set the `fields` parameter")
    i = 0
    for group in range(pf.num_row_groups):
        end = i + pf.metadata.row_group(group).num_rows
        try:
            for batch in pf.iter_batches(batch_size=4096, row_groups=[group]):
                for row in batch.to_pylist():
                    where = {"source": source, "record_offset": i, "location": f"row {i}"}
                    yield _converted(where, from_mapping, row, source, i, params.fields, params.max_bad_char_ratio)
                    i += 1
        except CONTENT_ERRORS as e:        # a damaged row group: its unread rows, then the next group
            if not_content(e):
                raise
            yield {"source": source, "record_offset": i, "location": f"row {i}",
                   "drop_detail": detail(f"row group {group}: {type(e).__name__}: {e}")}, "corrupt_row_group"
        i = end


def _text(fh: BinaryIO, split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[Row]:
    """A plain-text file (an essay, a book: .txt or .txt.gz) is one document, named by its file."""
    source = split["source"]
    where = {"source": source, "record_offset": 0, "location": "file"}
    data = bytearray()
    for chunk in iter_chunks(fh):
        if isinstance(chunk, Gap):               # a damaged gzip member: the text is not whole
            yield where, chunk.reason
            return
        data += chunk
        if b"\x00" in chunk[:BINARY_SNIFF] and len(data) == len(chunk):
            raise UnreadableFile(f"binary content (NUL bytes) in the first {BINARY_SNIFF} bytes: not text")
        if len(data) > params.max_record_bytes:
            yield where, "oversize"
            return
    yield _converted(where, from_mapping, {"text": bytes(data), "id": doc_id(source, "text")}, source, 0, {},
                     params.max_bad_char_ratio)


READERS = {"warc": _warc, "jsonl": _jsonl, "parquet": _parquet, "text": _text}


def _converted(where: dict[str, Any], convert, *args) -> Row:
    """A record as a document, or a dropped row; a record that breaks its converter is a drop too
    (the conversion reads only the record's own bytes: nothing another attempt could fix)."""
    try:
        doc, reason = convert(*args)
    except Exception as e:
        return where | {"drop_detail": detail(f"{type(e).__name__}: {e}")}, "bad_record"
    return doc | where, reason


def _lines(fh: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None, str | None]]:
    """(line index, line, None) for every non-blank line of a plain or gzip file; (index, None,
    reason) for a line over `limit` bytes ('oversize': skipped, never held whole) and for bytes lost
    to a damaged gzip member ('corrupt_gzip': reading goes on at the next one, 'truncated_gzip')."""
    reader = ByteReader(iter_chunks(fh))
    try:
        head = reader.peek(BINARY_SNIFF)
    except GapError:
        head = b""                                  # the loop meets the gap
    if b"\x00" in head:                             # JSON never holds a raw NUL
        raise UnreadableFile(f"binary content (NUL bytes) in the first {BINARY_SNIFF} bytes: not JSON lines")
    skip = False                                    # the rest of an oversize line comes first
    for i in itertools.count():
        try:
            if skip and reader.resync(b"\n"):
                reader.read(1)
            skip = False
            line = reader.readline(limit)
        except GapError as err:
            reader.skip_gap()
            yield i, None, err.gap.reason
            continue
        except ValueError:                          # no newline within `limit` bytes
            skip = True
            yield i, None, "oversize"
            continue
        if line is None:
            return
        if len(line) > limit:
            yield i, None, "oversize"
        elif line.strip():
            yield i, line, None


def _is_web(uri: str) -> bool:
    return uri.strip().strip("<>").lower().startswith(("http://", "https://"))
