import gzip
import html
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zhinao.tasks.ingest.stage import INGEST, IngestParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.corpus.generate import generate
from zhinao.tasks.corpus.warcfile import gz_member, http_response, warc_record
from zhinao.tasks.home import open_store
from tests.conftest import shared_data


def ingest(*sources, **kw):
    return execute_stage(INGEST, IngestParams(sources=[str(s) for s in sources], use_ray=False, **kw))


def truth_of(folder):
    return json.loads((folder / "truth.json").read_text())["records"]


def test_sample_corpus_is_deterministic(tmp_path):
    a, b = generate(tmp_path / "a", pages=60), generate(tmp_path / "b", pages=60)
    for f in sorted(a.glob("*.warc.gz")):
        assert f.read_bytes() == (b / f.name).read_bytes()
    assert generate(tmp_path / "c", pages=60, seed=1).joinpath("crawl-00000.warc.gz").read_bytes() != \
        (a / "crawl-00000.warc.gz").read_bytes()


def test_sample_corpus_has_what_the_pipeline_needs(sample_crawl):
    truth = truth_of(sample_crawl)
    kinds = Counter(t["kind"] for t in truth)
    assert {"article", "exact_dup", "near_dup", "spam", "low_quality", "other_lang", "malformed"} <= set(kinds)
    assert {t["charset"] for t in truth if t["lang"] == "zh"} == {"utf-8", "gbk", "gb2312"}
    assert any(t["declared"] is None for t in truth if t["lang"] == "zh")      # left for detection
    assert len({t["topic"] for t in truth if t["topic"]}) >= 10
    assert {t["drop_reason"] for t in truth if t["kind"] == "malformed"} == {
        "undecodable", "empty_body", "binary_body", "oversize", "http_status", "bad_http",
        "corrupt_gzip", "bad_header", "truncated_gzip"}


def test_ingest_sample_counts_languages_and_drop_reasons(sample_crawl):
    truth = truth_of(sample_crawl)
    r = ingest(sample_crawl, audit=True)
    good = [t for t in truth if t["drop_reason"] is None]
    assert r.rows == len(good)
    assert r.stats["dropped"] == dict(Counter(t["drop_reason"] for t in truth if t["drop_reason"]))
    assert r.stats["histograms"]["lang"] == dict(Counter(t["lang"] for t in good))

    store = open_store()
    docs = store.open_arrow(r.ref).to_pylist()
    by_url = {d["url"]: d for d in docs}
    assert len(by_url) == len(docs) == len({d["id"] for d in docs})
    for t in good:
        d = by_url[t["url"]]
        assert d["lang"] == t["lang"] and d["html"] and d["text"] == ""
        # decoding is right: every paragraph of the page reads back exactly from the HTML
        for para in t["text"].split("\n\n"):
            assert html.escape(para) in d["html"], (t["url"], t["charset"], d["charset"])
        if t["charset"] in ("gbk", "gb2312"):
            assert d["charset"] == "gb18030"
    audit = store.open_arrow(r.audit_ref).to_pylist()
    assert Counter(a["drop_reason"] for a in audit) == Counter(r.stats["dropped"])
    assert {a["url"] for a in audit if a["drop_reason"] == "oversize"} == {"http://huge.example.com/all-in-one.html"}


def test_default_source_is_the_generated_sample(zhinao_home):
    r = execute_stage(INGEST, IngestParams(use_ray=False))
    assert (zhinao_home / "sample-corpus" / "truth.json").exists()
    assert r.rows == sum(t["drop_reason"] is None for t in truth_of(zhinao_home / "sample-corpus"))


def _records(n, tmp_path, damage=None):
    import random

    rng = random.Random(7)
    members = []
    for i in range(n):
        url = f"http://x.example.com/{i}"
        body = f"<html><body><p>page {i} text</p></body></html>".encode()
        members.append(gz_member(warc_record(rng, "response", "2026-01-01T00:00:00Z",
                                             http_response(body, "text/html; charset=utf-8"), url)))
    if damage:
        damage(members)
    path = tmp_path / "t.warc.gz"
    path.write_bytes(b"".join(members))
    return path


def _urls(ref):
    return sorted(open_store().open_arrow(ref)["url"].to_pylist(), key=lambda u: int(u.rsplit("/", 1)[1]))


def test_corrupt_member_in_the_middle_loses_only_that_record(tmp_path):
    def corrupt(members):
        m = bytearray(members[5])
        for i in range(15, 40):
            m[i] ^= 0xFF
        members[5] = bytes(m)

    r = ingest(_records(10, tmp_path, corrupt))
    assert r.stats["dropped"] == {"corrupt_gzip": 1}
    assert _urls(r.ref) == [f"http://x.example.com/{i}" for i in range(10) if i != 5]


def test_garbage_between_members_and_a_bad_header_are_skipped(tmp_path):
    import random

    def damage(members):
        members.insert(3, b"this is not gzip at all" * 10)
        members.insert(7, gz_member(warc_record(random.Random(1), "response", "2026-01-01T00:00:00Z",
                                                b"x", "http://bad/", version_line=b"HTTP/1.1 200")))

    r = ingest(_records(10, tmp_path, damage))
    assert r.rows == 10
    assert r.stats["dropped"] == {"corrupt_gzip": 1, "bad_header": 1}


def test_uncompressed_warc_with_truncated_tail(tmp_path):
    path = _records(4, tmp_path)
    raw = gzip.decompress(path.read_bytes())
    plain = tmp_path / "plain.warc"
    plain.write_bytes(raw[:-40])
    r = ingest(plain)
    assert r.rows == 3 and r.stats["dropped"] == {"truncated_record": 1}


def test_real_warc_files_match_warcio(tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    for name in ("dolma-sample-0000.warc.gz", "dolma-sample-0001.warc.gz", "warcio-example.warc.gz"):
        path = shared_data("warc", name)
        with open(path, "rb") as fh:
            expected = sum(1 for rec in ArchiveIterator(fh) if rec.rec_type == "response"
                           and rec.http_headers and rec.http_headers.get_statuscode() == "200"
                           and "html" in (rec.http_headers.get_header("Content-Type") or ""))
        r = ingest(path)
        assert r.rows == expected, name
        urls = open_store().open_arrow(r.ref)["url"].to_pylist()
        assert all(u.startswith("http") and not u.startswith("<") for u in urls)  # dolma wraps URIs in <>


def test_malformed_warcio_samples(tmp_path):
    expect = {  # name: (documents, drops by reason)
        # the response is clipped (its payload digest fails; plain warcio passes it on): counted as
        # truncated, and the two stray bytes after it as a bad header; the next record still reads
        "warcio-example-trunc.warc": (0, {"truncated_record": 1, "bad_header": 1}),
        "warcio-example-bad-non-chunked.warc.gz": (1, {}),  # one gzip member for the file: warcio refuses it
        "warcio-example-wrong-chunks.warc.gz": (1, {}),   # block digest off, payload digest right
        "warcio-example-iana.org-chunked.warc": (1, {}),
        "warcio-example-space-in-target-uri.warc.gz": (0, {}),          # a file:// resource is no web page
        "warcio-example-wget-bad-target-uri.warc.gz": (1, {}),
    }
    for name, (rows, dropped) in expect.items():
        r = ingest(shared_data("warc", name))
        assert (r.rows, r.stats["dropped"]) == (rows, dropped), name
        for doc in open_store().open_arrow(r.ref).to_pylist():
            assert doc["html"].rstrip().endswith("</html>"), name


def test_length_running_into_the_next_record_is_caught(tmp_path):
    path = _records(3, tmp_path)
    raw = bytearray(gzip.decompress(path.read_bytes()))
    first_len = raw.find(b"Content-Length: ") + len(b"Content-Length: ")
    end = raw.find(b"\r\n", first_len)
    raw[first_len:end] = str(int(raw[first_len:end]) + 30).encode()       # claims 30 bytes it does not have
    plain = tmp_path / "overlong.warc"
    plain.write_bytes(bytes(raw))
    r = ingest(plain)
    assert r.rows == 2 and r.stats["dropped"] == {"truncated_record": 1}
    assert _urls(r.ref) == ["http://x.example.com/1", "http://x.example.com/2"]


def test_jsonl_and_parquet_sources(tmp_path):
    lines = [json.dumps({"text": "第一篇文档。", "url": "http://a/1", "lang": "zh-CN"}), "{not json",
             json.dumps({"text": "", "url": "http://a/3"}), json.dumps(["a", "list"]),
             json.dumps({"text": "Second document.", "url": "http://a/5", "id": "doc-5"})]
    with gzip.open(tmp_path / "docs.jsonl.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    pq.write_table(pa.table({"content": ["parquet text", " "], "link": ["http://p/1", "http://p/2"]}),
                   tmp_path / "docs.parquet")
    fields = {"text": "content", "url": "link", "id": "id", "timestamp": "ts", "lang": "lang"}
    r = ingest(tmp_path / "docs.jsonl.gz")
    assert r.rows == 2 and r.stats["dropped"] == {"bad_json": 2, "empty_body": 1}
    docs = {d["url"]: d for d in open_store().open_arrow(r.ref).to_pylist()}
    assert docs["http://a/1"]["lang"] == "zh" and docs["http://a/5"]["id"] == "doc-5"
    r = ingest(tmp_path / "docs.parquet", fields=fields)
    assert r.rows == 1 and r.stats["dropped"] == {"empty_body": 1}
    with pytest.raises(ValueError, match="no text column 'text'"):
        ingest(tmp_path / "docs.parquet")


def test_text_files_are_one_document_each(tmp_path):
    """A folder of essays (.txt, .txt.gz) ingests as is: one document per file, named by it."""
    essays = tmp_path / "essays"
    essays.mkdir()
    (essays / "startups.txt").write_text("How to start a startup.\n\nYou need three things.", encoding="utf-8")
    with gzip.open(essays / "长文.txt.gz", "wt", encoding="utf-8") as f:
        f.write("这是一篇很长的中文文章。" * 20)
    (essays / "blank.txt").write_text("  \n")
    (essays / "huge.txt").write_text("x" * 5000)
    (essays / "binary.txt").write_bytes(b"\x00\x01" * 10)
    r = ingest(essays, max_record_bytes=4096)
    assert r.rows == 2 and r.stats["dropped"] == {"empty_body": 1, "oversize": 1, "unreadable_file": 1}
    docs = {d["source"]: d for d in open_store().open_arrow(r.ref).to_pylist()}
    assert docs["startups.txt"]["text"] == "How to start a startup.\n\nYou need three things."
    assert docs["长文.txt.gz"]["text"].startswith("这是一篇") and docs["startups.txt"]["id"] != docs["长文.txt.gz"]["id"]
    again = ingest(essays, max_record_bytes=4096)
    assert again.cache_hit and again.ref == r.ref


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        ingest(tmp_path / "missing.warc.gz")
    (tmp_path / "notes.docx").write_text("x")
    with pytest.raises(ValueError, match="unsupported source format"):
        ingest(tmp_path / "notes.docx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no"):
        ingest(tmp_path / "empty")


def test_ray_splits_the_work_across_tasks(sample_crawl, ray_local):
    r = execute_stage(INGEST, IngestParams(sources=[str(sample_crawl)]))
    assert r.stats["counters"]["splits"] == 4
    assert r.stats["counters"]["workers"] >= 2          # 4 files ran as tasks on 2 worker processes
    assert r.rows == sum(t["drop_reason"] is None for t in truth_of(sample_crawl))
    assert open_store().open_ray(r.ref).count() == r.rows


def test_a_source_with_no_documents_gives_an_empty_version_with_its_schema():
    r = ingest(shared_data("warc", "warcio-example-space-in-target-uri.warc.gz"))
    assert r.rows == 0 and r.stats["counters"]["non_web_resources"] == 1
    table = open_store().open_arrow(r.ref)
    assert table.num_rows == 0 and table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")


def test_digest_mismatch_is_a_truncated_record(tmp_path):
    def clip(members):
        raw = gzip.decompress(members[1])
        head, _, rest = raw.partition(b"\r\n\r\n")
        body = rest[: -len(b"\r\n\r\n")]
        clipped = body.replace(b"page 1 text", b"page 1 tex!")        # same length, different bytes
        members[1] = gz_member(head + b"\r\n\r\n" + clipped + b"\r\n\r\n")

    r = ingest(_records(3, tmp_path, clip))
    assert r.rows == 2 and r.stats["dropped"] == {"truncated_record": 1}
    assert _urls(r.ref) == ["http://x.example.com/0", "http://x.example.com/2"]


def test_wet_conversion_records_fill_text(tmp_path):
    import random

    rng = random.Random(3)
    members = [gz_member(warc_record(rng, "warcinfo", "2026-01-01T00:00:00Z", b"software: test\r\n",
                                     content_type="application/warc-fields"))]
    texts = ["Plain text extracted by the crawler.", "爬虫抽取的纯文本。", " \n "]
    for i, text in enumerate(texts):
        members.append(gz_member(warc_record(
            rng, "conversion", "2026-01-02T03:04:05Z", text.encode(), f"http://wet.example.com/{i}",
            content_type="text/plain", extra={"WARC-Identified-Content-Language": ["eng", "zho", "eng"][i]})))
    path = tmp_path / "CC-MAIN-x.warc.wet.gz"
    path.write_bytes(b"".join(members))
    r = ingest(path)
    assert r.rows == 2 and r.stats["dropped"] == {"empty_body": 1}
    docs = {d["url"]: d for d in open_store().open_arrow(r.ref).to_pylist()}
    assert docs["http://wet.example.com/1"]["text"] == texts[1]
    assert docs["http://wet.example.com/0"]["timestamp"].year == 2026 and docs["http://wet.example.com/0"]["html"] is None
