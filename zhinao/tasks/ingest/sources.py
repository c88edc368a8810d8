"""Find and fingerprint raw input files, and read one file into documents (one Ray task each)."""
from __future__ import annotations

import glob
import logging
import os
from typing import Any, Iterator

import fsspec

from ..runtime.sink import RowBatcher, ShardSink
from ..stats import StageStats, dropped_text
from .checks import check_row, detail, storable
from .documents import AUDIT_SCHEMA, SCHEMA
from .formats import CONTENT_ERRORS, Row, SourceError, not_content, records

log = logging.getLogger("zhinao.ingest")

FORMATS = {  # suffix -> format, longest first
    ".warc.wet.gz": "warc", ".wet.gz": "warc", ".warc.gz": "warc", ".wet": "warc", ".warc": "warc",
    ".jsonl.gz": "jsonl", ".json.gz": "jsonl", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".txt.gz": "text", ".txt": "text",
}


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
                raise SourceError(f"source folder {spec!r} holds no .warc/.wet/.jsonl/.parquet/.txt file")
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


UNREADABLE = "unreadable_file"      # the drop of a file (or of its rest), not of a record
PROBLEMS = "source_problems"        # the statistics table naming each source that gave no or few documents


def process_file(split: dict[str, Any], params: Any, sink: ShardSink, stats: StageStats) -> None:
    """Ray task body: read one raw file, write its documents, count what was dropped and why. A bad
    record is a counted drop; so is a file that cannot be read (or the rest of it, from where it
    breaks); the other records and files go on."""
    out = RowBatcher(sink, SCHEMA, AUDIT_SCHEMA, params.shard_rows)
    stats.observe("format", split["format"])
    for doc, reason in _guarded(split, params, stats):
        if reason != UNREADABLE:
            stats.count("records_in")
        if reason is None and (bad := check_row(doc, SCHEMA)) is not None:
            doc, reason = doc | {"drop_detail": bad.detail}, bad.reason
        if reason is None:
            out.keep(doc)
            stats.count("rows_out")
            stats.observe("lang", doc.get("lang") or "unknown")
            if doc.get("charset"):
                stats.observe("charset", f"{doc['charset']}/{doc['charset_method']}")
        else:
            out.drop(storable(doc, SCHEMA), reason)
            stats.drop(reason)
    out.flush()
    if not stats.counters["rows_out"]:
        if not stats.tables.get(PROBLEMS):
            _problem(split, stats, f"yielded no document ({_outcome(stats)})")
        if params.strict:
            raise ValueError(f"ingest (strict): source {split['uri']} {stats.tables[PROBLEMS][0]['problem']}; "
                             "strict=false counts it and ingests the other sources")


def _guarded(split: dict[str, Any], params: Any, stats: StageStats) -> Iterator[Row]:
    """The file's records; when its content breaks the reader, one last row that drops the file (or
    the rest of it) with the error. Only reading is guarded: a failed write still fails the task."""
    where = None
    try:
        for doc, reason in records(split, params, stats):
            where = doc["location"]
            yield doc, reason
    except CONTENT_ERRORS as e:
        if not_content(e):
            raise
        why = detail(f"{type(e).__name__}: {e}")
        _problem(split, stats, f"breaks after {where} ({why})" if where else f"cannot be read ({why})")
        yield {"url": split["uri"], "source": split["source"], "drop_detail": why,
               "location": f"after {where}" if where else "start"}, UNREADABLE


def _problem(split: dict[str, Any], stats: StageStats, what: str) -> None:
    stats.table(PROBLEMS, [{"source": split["uri"], "problem": what}])


def _outcome(stats: StageStats) -> str:
    read = f"{stats.counters['records_in']} records read"
    return f"{read}, dropped: {dropped_text(stats.dropped)}" if stats.dropped else read


def report_sources(splits: list[dict[str, Any]], results: list) -> None:
    """On the driver: a warning naming each source that could not be read or gave no document (and
    a table of them in the statistics), and one when no source gave any. With strict=true the task
    of such a source has failed already."""
    problems = [row for r in results for row in r.stats.tables.pop(PROBLEMS, [])]
    for row in problems:
        log.warning("ingest: source %s %s", row["source"], row["problem"])
    if problems:
        results[0].stats.table(PROBLEMS, problems)
    if results and not sum(r.stats.counters["rows_out"] for r in results):
        log.warning("ingest: no document in %d source(s) (%s); the version has 0 rows", len(splits),
                    ", ".join(s["uri"] for s in splits[:3]) + (" ..." if len(splits) > 3 else ""))
