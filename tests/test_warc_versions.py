"""Older WARC versions (0.17 / 0.18 drafts, as in ClueWeb09 and Heritrix 1.x crawls) and 1.1 read like
1.0; a legacy digest mismatch on a complete record is a counted quirk, a record cut short stays a drop."""
import hashlib
import io
from base64 import b32encode

from zhinao.tasks.ingest.stage import INGEST, IngestParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.corpus.warcfile import gz_member
from zhinao.tasks.ingest.warc import Malformed, WarcRecord, iter_records
from zhinao.tasks.home import open_store

WRONG = "sha1:" + "A" * 32       # a well-formed digest that matches nothing (legacy crawlers wrote such)


def ingest(path):
    return execute_stage(INGEST, IngestParams(sources=[str(path)], use_ray=False))


def page(i: int) -> bytes:
    # CRLF blank lines inside the HTML, so an HTTP head ended by bare LFs must not be cut at them
    return (f"<html>\r\n<head><title>page {i}</title></head>\r\n\r\n"
            f"<body><p>legacy page {i}</p></body>\r\n</html>").encode()


def http(body: bytes, lf_only: bool = False) -> bytes:
    eol = "\n" if lf_only else "\r\n"
    head = eol.join(["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8", "Server: Apache/1.3"])
    return head.encode() + (eol + eol).encode() + body


def sha1(data: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(data).digest()).decode()


def record(version: str, rtype: str, block: bytes, i: int = 0, digest: str | None = None,
           length: int | None = None, terminator: bytes = b"\r\n\r\n") -> bytes:
    headers = [f"WARC/{version}", f"WARC-Type: {rtype}", f"WARC-Date: 2009-01-13T18:05:{i:02d}Z",
               f"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{i:012d}>"]
    if rtype == "response":
        headers += [f"WARC-Target-URI: http://old.example.com/{i}", f"WARC-TREC-ID: clueweb09-en0000-00-{i:05d}",
                    "Content-Type: application/http;msgtype=response"]
        if digest:
            headers.append(f"WARC-Payload-Digest: {digest}")
    else:
        headers.append("Content-Type: application/warc-fields")
    headers.append(f"Content-Length: {len(block) if length is None else length}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + block + terminator


def urls(ref) -> list[str]:
    return sorted(open_store().open_arrow(ref)["url"].to_pylist())


def test_gzip_warc_018_keeps_documents_with_legacy_digests_and_drops_the_cut_record(tmp_path):
    records = [record("0.18", "warcinfo", b"software: Nutch 1.0-dev\r\nformat: WARC file version 0.18\r\n")]
    records += [record("0.18", "response", http(page(i), lf_only=i % 2 == 1), i, WRONG) for i in (1, 2, 3)]
    # declares 40 bytes more than it has: its payload runs into the next record
    cut = http(page(4))
    records.append(record("0.18", "response", cut, 4, sha1(cut.split(b"\r\n\r\n", 1)[1]), length=len(cut) + 40))
    records.append(record("0.18", "response", http(page(5)), 5, WRONG))
    path = tmp_path / "ClueWeb09_English_1.warc.gz"
    path.write_bytes(b"".join(gz_member(r) for r in records))

    r = ingest(path)
    assert r.rows == 4
    assert r.stats["dropped"] == {"truncated_record": 1}
    assert r.stats["counters"]["quirk.legacy_digest_mismatch"] == 4
    assert r.stats["histograms"]["warc_version"] == {"0.18": 5}      # the cut record is no record
    assert urls(r.ref) == [f"http://old.example.com/{i}" for i in (1, 2, 3, 5)]
    for doc in open_store().open_arrow(r.ref).to_pylist():
        assert doc["html"].startswith("<html>") and doc["html"].endswith("</html>")   # head split right
        assert doc["http_status"] == 200 and doc["charset"] == "utf-8"


def test_warc_017_and_11_are_read(tmp_path):
    body = http(page(1))
    good = sha1(body.split(b"\r\n\r\n", 1)[1])
    old = tmp_path / "heritrix1.warc"
    old.write_bytes(record("0.17", "response", body, 1, good) + record("0.17", "response", http(page(2)), 2, WRONG))
    r = ingest(old)
    assert r.rows == 2 and r.stats["dropped"] == {}
    assert r.stats["counters"]["quirk.legacy_digest_mismatch"] == 1
    assert r.stats["histograms"]["warc_version"] == {"0.17": 2}

    new = tmp_path / "v11.warc"
    new.write_bytes(record("1.1", "response", body, 1, good) + record("1.1", "response", http(page(2)), 2))
    r = ingest(new)
    assert r.rows == 2 and r.stats["dropped"] == {}
    assert "quirk.legacy_digest_mismatch" not in r.stats["counters"]
    assert r.stats["histograms"]["warc_version"] == {"1.1": 2}


def test_bad_digests_that_are_no_legacy_quirk_stay_drops(tmp_path):
    path = tmp_path / "mixed.warc"
    path.write_bytes(record("1.0", "response", http(page(1)), 1, WRONG)           # 1.x: a clipped record
                     + record("1.0", "response", http(page(2)), 2)
                     # legacy, but without its terminator nothing shows it is complete
                     + record("0.18", "response", http(page(3)), 3, WRONG, terminator=b""))
    r = ingest(path)
    assert r.rows == 1 and urls(r.ref) == ["http://old.example.com/2"]
    assert r.stats["dropped"] == {"truncated_record": 2}
    assert "quirk.legacy_digest_mismatch" not in r.stats["counters"]


def test_legacy_record_shorter_than_declared_at_the_end_is_truncated():
    data = record("0.18", "response", http(page(1)), 1, WRONG) + record("0.18", "response", http(page(2)), 2)[:-60]
    out = list(iter_records(io.BytesIO(data), 1 << 20))
    assert [type(o) for o in out] == [WarcRecord, Malformed]
    assert out[0].version == "0.18" and out[0].quirk == "legacy_digest_mismatch"
    assert out[1].reason == "truncated_record"


def test_resync_after_garbage_finds_legacy_records():
    r1, r2 = record("0.18", "response", http(page(1)), 1), record("0.17", "response", http(page(2)), 2)
    data = b"leading junk\r\nWARC/9.9 is no version\r\n" + r1 + b"stray bytes\nWARC/0.1 nope\n" + r2
    out = list(iter_records(io.BytesIO(data), 1 << 20))
    assert [o.reason if isinstance(o, Malformed) else o.version for o in out] == \
        ["bad_header", "0.18", "bad_header", "0.17"]
    assert out[1].offset == data.index(b"WARC/0.18") and out[3].offset == data.index(b"WARC/0.17")
