"""Deterministic sample crawl: gzipped WARC files with planted duplicates, spam and malformed records.

`generate(folder)` writes crawl-000NN.warc.gz files and truth.json, which records for every page its
language, kind, charset and the drop reason ingestion should give it (tests compare against it).
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .pages import Page, article, low_quality, near_duplicate, other_language, render_html, spam
from .content import TOPIC_WEIGHTS, TOPICS
from .warcfile import gz_member, http_request, http_response, warc_record

log = logging.getLogger("zhinao.corpus")

ZH_CHARSETS = [("utf-8", 0.5), ("gbk", 0.25), ("gb2312", 0.25)]
DECLARE = ["header", "meta", "both", "none"]
DEFAULT_PAGES = 480
DEFAULT_FILES = 4
OVERSIZE_BYTES = 3 << 20     # above ingest's default max_record_bytes (2 MiB)


@dataclass
class Truth:
    url: str
    file: str
    lang: str | None
    kind: str
    topic: str | None
    charset: str | None
    declared: str | None
    drop_reason: str | None
    text: str | None = None


def _pages(rng: random.Random, n: int) -> list[Page]:
    pages: list[Page] = []
    originals: list[Page] = []          # the articles so far, kept as they come (a rescan is O(n^2))
    topics = sorted(TOPICS)
    for i in range(n):
        if pages and pages[-1].kind == "article":
            originals.append(pages[-1])
        roll = rng.random()
        lang = "zh" if rng.random() < 0.5 else "en"
        host = f"{'www' if lang == 'en' else 'news'}.site{rng.randint(1, 40)}.{'com' if lang == 'en' else 'cn'}"
        url = f"http://{host}/{rng.choice(topics)}/{i:05d}.html"
        if roll < 0.05 and originals:
            src = rng.choice(originals)
            pages.append(Page(src.url.replace(".html", f".html?utm_source=feed{i}"), src.lang, "exact_dup",
                              src.topic, src.title, src.paragraphs, {"dup_of": src.url}))
        elif roll < 0.10 and originals:
            src = rng.choice(originals)
            pages.append(near_duplicate(rng, src, src.url.replace(".html", f"-copy{i}.html")))
        elif roll < 0.13:
            pages.append(spam(rng, lang, url))
        elif roll < 0.17:
            pages.append(low_quality(rng, lang, url))
        elif roll < 0.22:
            other = rng.choice(["fr", "de", "es", "ru", "ja"])
            pages.append(other_language(rng, other, url.replace(".com", f".{other}").replace(".cn", f".{other}")))
        else:
            weights = TOPIC_WEIGHTS[lang]
            pages.append(article(rng, lang, rng.choices(topics, [weights[t] for t in topics])[0], url))
    return pages


def _choose_charset(rng: random.Random, page: Page) -> str:
    if page.lang != "zh":
        return "utf-8"
    r, acc = rng.random(), 0.0
    for cs, share in ZH_CHARSETS:
        acc += share
        if r < acc:
            break
    try:
        (page.title + page.text).encode(cs)
    except UnicodeEncodeError:
        cs = "gbk"  # a character outside GB2312: real sites then serve GBK
    return cs


def _response_block(rng: random.Random, page: Page) -> tuple[bytes, str, str | None]:
    charset = _choose_charset(rng, page)
    how = rng.choice(DECLARE) if page.lang == "zh" else rng.choice(["header", "meta", "both"])
    meta = charset if how in ("meta", "both") else None
    ctype = f"text/html; charset={charset}" if how in ("header", "both") else "text/html"
    body = render_html(page, rng, meta).encode(charset)
    return http_response(body, ctype), charset, (charset if how != "none" else None)


def _malformed_pages(rng: random.Random) -> list[tuple[str, bytes, str, str]]:
    """(reason, http block, content type, url) of response records ingestion must reject."""
    junk = bytes(rng.getrandbits(8) for _ in range(4000))
    big = ("<html><body>" + "<p>" + "lorem ipsum dolor sit amet " * 40 + "</p>\n") * (OVERSIZE_BYTES // 1100)
    return [
        ("undecodable", http_response(b"<html><meta charset='utf-8'><p>" + junk + b"</p></html>",
                                      "text/html; charset=utf-8"), "text/html", "http://broken.example.com/bytes"),
        ("empty_body", http_response(b"", "text/html"), "text/html", "http://empty.example.com/"),
        ("binary_body", http_response(b"\x89PNG\r\n\x1a\n" + junk, "image/png"), "image/png",
         "http://img.example.com/logo.png"),
        ("oversize", http_response(big.encode(), "text/html; charset=utf-8"), "text/html",
         "http://huge.example.com/all-in-one.html"),
        ("http_status", http_response(b"<html><p>Not Found</p></html>", "text/html", "404 Not Found"), "text/html",
         "http://www.example.com/missing"),
        ("bad_http", b"garbage instead of an HTTP response\r\n", "text/html", "http://www.example.com/garbled"),
    ]


def generate(folder: str | Path, pages: int = DEFAULT_PAGES, files: int = DEFAULT_FILES, seed: int = 0) -> Path:
    """Write the sample crawl into `folder` (deterministic for a given seed) and return it."""
    if files < 2:
        raise ValueError("the sample crawl needs at least 2 files (malformed records are spread over them)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    all_pages = _pages(rng, pages)
    malformed = _malformed_pages(rng)
    start = datetime(2026, 11, 2, tzinfo=timezone.utc)
    truth: list[Truth] = []
    for f in range(files):
        name = f"crawl-{f:05d}.warc.gz"
        members: list[bytes] = []
        info = b"software: zhinao sample-corpus\r\nformat: WARC File Format 1.0\r\nisPartOf: zhinao-sample\r\n"
        members.append(gz_member(warc_record(rng, "warcinfo", start.strftime("%Y-%m-%dT%H:%M:%SZ"), info,
                                             content_type="application/warc-fields", extra={"WARC-Filename": name})))
        for k, page in enumerate(all_pages[f::files]):
            date = (start + timedelta(seconds=f * 10000 + k * 7)).strftime("%Y-%m-%dT%H:%M:%SZ")
            block, charset, declared = _response_block(rng, page)
            members.append(gz_member(warc_record(rng, "request", date, http_request(page.url), page.url,
                                                 content_type="application/http; msgtype=request")))
            members.append(gz_member(warc_record(rng, "response", date, block, page.url)))
            meta = f"fetchTimeMs: {rng.randint(20, 900)}\r\ncharset-detected: {charset.upper()}\r\n".encode()
            members.append(gz_member(warc_record(rng, "metadata", date, meta, page.url,
                                                 content_type="application/warc-fields")))
            truth.append(Truth(page.url, name, page.lang, page.kind, page.topic, charset, declared, None,
                               page.text))
        date = (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for reason, block, _ctype, url in malformed[f::files]:
            members.append(gz_member(warc_record(rng, "response", date, block, url)))
            truth.append(Truth(url, name, None, "malformed", None, None, None, reason))
        _plant_damage(rng, f, files, name, members, truth, date)
        (folder / name).write_bytes(b"".join(members))
    (folder / "truth.json").write_text(json.dumps({"seed": seed, "pages": pages, "files": files,
                                                   "records": [asdict(t) for t in truth]},
                                                  ensure_ascii=False, indent=1))
    log.info("wrote sample crawl: %d pages in %d WARC files under %s", pages, files, folder)
    return folder


def _plant_damage(rng, f: int, files: int, name: str, members: list[bytes], truth: list[Truth], date: str) -> None:
    """Damage that lives below the HTTP layer: bad WARC headers, a corrupt gzip member, truncation."""
    def page(url: str) -> bytes:
        return http_response(f"<html><p>{url}</p></html>".encode(), "text/html")

    if f == 0:  # a corrupt gzip member in the middle of the file
        url = "http://corrupt.example.com/member"
        member = bytearray(gz_member(warc_record(rng, "response", date, page(url) * 40, url)))
        for i in range(20, min(len(member) - 8, 60)):
            member[i] ^= 0x5A
        members.insert(len(members) // 2, bytes(member))
        truth.append(Truth(url, name, None, "malformed", None, None, None, "corrupt_gzip"))
    if f == 1:  # a record whose version line is garbage, and one with a non-numeric length
        url = "http://badheader.example.com/version"
        members.insert(3, gz_member(warc_record(rng, "response", date, page(url), url, version_line=b"WRAC/9.9")))
        truth.append(Truth(url, name, None, "malformed", None, None, None, "bad_header"))
        url = "http://badheader.example.com/length"
        members.insert(6, gz_member(warc_record(rng, "response", date, page(url), url, content_length="12ab")))
        truth.append(Truth(url, name, None, "malformed", None, None, None, "bad_header"))
    if f == files - 1:  # the crawler died mid-write: the last member is cut in half
        url = "http://truncated.example.com/last"
        member = gz_member(warc_record(rng, "response", date, page(url) * 50, url))
        members.append(member[: len(member) // 2])
        truth.append(Truth(url, name, None, "malformed", None, None, None, "truncated_gzip"))
