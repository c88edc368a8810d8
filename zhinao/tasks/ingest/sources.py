"""Find and fingerprint raw input files, and read one file into documents (one Ray task each)."""
from __future__ import annotations

import glob
import gzip
import json
import os
from typing import Any, Iterator

import fsspec
import pyarrow.parquet as pq

from ..runtime.sink import RowBatcher, ShardSink
from ..stats import StageStats
from .documents import AUDIT_SCHEMA, DEFAULT_FIELDS, SCHEMA, from_mapping, from_warc
from .warc import Malformed, iter_records

WARC_TYPES = frozenset({"response", "resource", "conversion"})
FORMATS = {  # suffix -> format, longest first
    ".warc.wet.gz": "warc", ".wet.gz": "warc", ".warc.gz": "warc", ".wet": "warc", ".warc": "warc",
    ".jsonl.gz": "jsonl", ".json.gz": "jsonl", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet",
}


class SourceError(ValueError):
    pass


def detect_format(path: str) -> str | None:
    low = path.lower()
    return next((fmt for suffix, fmt in FORMATS.items() if low.endswith(suffix)), None)


def expand(specs: list[str]) -> list[str]:
    """Files named, folders searched recursively for known formats, globs expanded; sorted, unique."""
    found: list[str] = []
    for spec in specs:
        if "://" in spec:
            fs, path = fsspec.core.url_to_fs(spec)
            proto = spec.split("://", 1)[0]
            matches = fs.glob(path) if glob.has_magic(path) else [path]
            found += [f"{proto}://{m}" for m in matches]
            continue
        path = os.path.expanduser(spec)
        if glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise SourceError(f"source glob {spec!r} matches no file")
            found += [m for m in matches if os.path.isfile(m)]
        elif os.path.isdir(path):
            files = sorted(os.path.join(d, f) for d, _, fs_ in os.walk(path) for f in fs_ if detect_format(f))
            if not files:
                raise SourceError(f"source folder {spec!r} holds no .warc/.wet/.jsonl/.parquet file")
            found += files
        elif os.path.isfile(path):
            found.append(os.path.abspath(path))
        else:
            raise SourceError(f"source {spec!r} does not exist")
    unknown = [f for f in found if detect_format(f) is None]
    if unknown:
        raise SourceError(f"unsupported source format: {unknown[0]!r} (expected one of {', '.join(FORMATS)})")
    return sorted(set(found))


def split_for(uri: str) -> dict[str, Any]:
    return {"uri": uri, "format": detect_format(uri), "source": os.path.basename(uri.rstrip("/"))}


def process_file(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """Ray task body: read one raw file, write its documents, count what was dropped and why."""
    out = RowBatcher(sink, SCHEMA, AUDIT_SCHEMA, params.shard_rows)
    stats.observe("format", split["format"])
    for doc, reason in _documents(split, params, stats):
        stats.count("records_in")
        if reason is None:
            out.keep(doc)
            stats.count("rows_out")
            stats.observe("lang", doc.get("lang") or "unknown")
            if doc.get("charset"):
                stats.observe("charset", f"{doc['charset']}/{doc['charset_method']}")
        else:
            out.drop(doc, reason)
            stats.drop(reason)
    out.flush()


def _documents(split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[tuple[dict, str | None]]:
    uri, source = split["uri"], split["source"]
    with fsspec.open(uri, "rb") as fh:
        if split["format"] == "warc":
            for rec in iter_records(fh, params.max_record_bytes, WARC_TYPES, params.verify_digests):
                if isinstance(rec, Malformed):
                    rid = rec.headers.get("warc-record-id", "")
                    yield {"id": None, "source": source, "record_offset": rec.offset,
                           "warc_record_id": rid or None,
                           "url": rec.headers.get("warc-target-uri", "").strip("<>") or None}, rec.reason
                    continue
                stats.observe("warc_type", rec.type)
                stats.observe("warc_version", rec.version)
                if rec.quirk:  # kept, but counted so a reader sees the file's digests were not checkable
                    stats.count(f"quirk.{rec.quirk}")
                if rec.type == "resource" and not _is_web(rec.headers.get("warc-target-uri", "")):
                    stats.count("non_web_resources")  # crawler logs and manifests (metadata://, dns:)
                elif rec.type in WARC_TYPES:
                    yield from_warc(rec, source, params.max_bad_char_ratio)
        elif split["format"] == "jsonl":
            stream = gzip.open(fh) if uri.endswith(".gz") else fh
            for i, line in enumerate(stream):
                if not line.strip():
                    continue
                if len(line) > params.max_record_bytes:
                    yield {"source": source, "record_offset": i}, "oversize"
                    continue
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    yield {"source": source, "record_offset": i}, "bad_json"
                    continue
                if not isinstance(row, dict):
                    yield {"source": source, "record_offset": i}, "bad_json"
                    continue
                yield from_mapping(row, source, i, params.fields, params.max_bad_char_ratio)
        else:
            pf = pq.ParquetFile(fh)
            text_field = (DEFAULT_FIELDS | params.fields)["text"]
            if text_field not in pf.schema_arrow.names:
                raise ValueError(f"{uri}: Parquet source has no text column {text_field!r} "
                                 f"(columns: {pf.schema_arrow.names}); set the `fields` parameter")
            i = 0
            for batch in pf.iter_batches(batch_size=4096):
                for row in batch.to_pylist():
                    yield from_mapping(row, source, i, params.fields, params.max_bad_char_ratio)
                    i += 1


def _is_web(uri: str) -> bool:
    return uri.strip().strip("<>").lower().startswith(("http://", "https://"))
