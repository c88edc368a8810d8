"""A corpus of bad ingest inputs beside a good one, with what ingest must make of each file: shared by
tests/test_bad_input.py and the fault-injection benchmark (benchmarks/faults.py)."""
from __future__ import annotations

import gzip
import json
import random
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from zhinao.tasks.corpus.warcfile import gz_member, http_response, warc_record

GOOD_WARC = "good.warc.gz"
GOOD_WARC_RECORDS = 20


def _jsonl(path: Path, rows: list[Any]) -> None:
    # json.dumps writes a lone surrogate as the escape \ud800, as the crawlers that emit them do
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _doc(i: int, **kw: Any) -> dict[str, Any]:
    return {"text": f"Good document number {i}.", "url": f"http://good.example.com/{i}", "lang": "en"} | kw


def _warc(path: Path, n: int) -> None:
    rng = random.Random(11)
    path.write_bytes(b"".join(
        gz_member(warc_record(rng, "response", "2026-01-01T00:00:00Z",
                              http_response(f"<html><body><p>warc page {i}</p></body></html>".encode(),
                                            "text/html; charset=utf-8"), f"http://warc.example.com/{i}"))
        for i in range(n)))


def _binary(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n)) + b"\x00" * 16


def _damaged_row_group(path: Path) -> None:
    """Two row groups of three rows; the second one's pages overwritten."""
    pq.write_table(pa.table({"text": [f"parquet page {i}" for i in range(6)]}), path, row_group_size=3)
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    path.write_bytes(bytes(data))


def write_bad_corpus(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Writes the corpus into `folder`. Returns, per file name: `good` (the documents it must
    yield), `drops` (each dropped record or file: its `reason`, `location` in the file and a
    fragment of its `detail`), `dropped` (reason -> count, as the stage statistics count them) and
    `empty` (it yields no document: a warning naming it, an error with strict=true)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, dict[str, Any]] = {}

    def case(name: str, good: int, *drops: tuple[str, str, str]) -> None:
        listed = [{"reason": r, "location": loc, "detail": d} for r, loc, d in drops]
        expect[name] = {"good": good, "drops": listed, "dropped": dict(Counter(d["reason"] for d in listed)),
                        "empty": good == 0}

    _jsonl(folder / "surrogate.jsonl", [_doc(0), _doc(1, text="broken \ud800 half pair"), _doc(2)])
    case("surrogate.jsonl", 2, ("bad_unicode", "line 2", "text: surrogates not allowed"))
    _jsonl(folder / "lang_list.jsonl", [_doc(3), _doc(4, lang=["en", "zh"])])
    case("lang_list.jsonl", 1, ("bad_field_type", "line 2", "lang: list"))
    _jsonl(folder / "url_number.jsonl", [_doc(5, url=12345), _doc(6)])
    case("url_number.jsonl", 1, ("bad_field_type", "line 1", "url: int 12345"))
    _jsonl(folder / "types.jsonl", [_doc(7, timestamp=["2026"]), _doc(8, text={"p": "x"}), _doc(9, id=[1]),
                                    _doc(10, timestamp="2026-01-02T00:00:00Z", id=10)])
    case("types.jsonl", 1, ("bad_field_type", "line 1", "timestamp: list"), ("bad_field_type", "line 2", "text: dict"),
         ("bad_field_type", "line 3", "id: list"))
    (folder / "binary.jsonl").write_bytes(_binary(3000, 1))
    case("binary.jsonl", 0, ("unreadable_file", "start", "binary content"))
    (folder / "not_gzip.jsonl.gz").write_bytes(_binary(500, 2))
    case("not_gzip.jsonl.gz", 0, ("unreadable_file", "start", "binary content"))
    (folder / "empty.jsonl").write_bytes(b"")
    case("empty.jsonl", 0)
    (folder / "binary.parquet").write_bytes(_binary(2000, 3))
    case("binary.parquet", 0, ("unreadable_file", "start", "Parquet magic bytes not found"))
    (folder / "empty.parquet").write_bytes(b"")
    case("empty.parquet", 0, ("unreadable_file", "start", "Parquet file size is 0 bytes"))
    pq.write_table(pa.table({"text": ["parquet row 0", "parquet row 1", "parquet row 2"],
                             "url": pa.array([None, 7, None], pa.int64())}), folder / "int_url.parquet")
    case("int_url.parquet", 2, ("bad_field_type", "row 1", "url: int 7"))
    _damaged_row_group(folder / "bad_row_group.parquet")
    case("bad_row_group.parquet", 3, ("corrupt_row_group", "row 3", "row group 1"))
    (folder / "binary.warc").write_bytes(_binary(3000, 4))
    case("binary.warc", 0, ("bad_header", "offset 0", ""))
    (folder / "empty.warc.gz").write_bytes(b"")
    case("empty.warc.gz", 0)
    with gzip.open(folder / "cut.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(_doc(100 + i)) + "\n" for i in range(400)))
    data = (folder / "cut.jsonl.gz").read_bytes()[:1500]
    (folder / "cut.jsonl.gz").write_bytes(data)             # the lines before the cut still count
    lines = zlib.decompressobj(31).decompress(data).count(b"\n")
    case("cut.jsonl.gz", lines, ("truncated_gzip", f"line {lines + 1}", ""))
    _warc(folder / GOOD_WARC, GOOD_WARC_RECORDS)
    case(GOOD_WARC, GOOD_WARC_RECORDS)
    return expect
