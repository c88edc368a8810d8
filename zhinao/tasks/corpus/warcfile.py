"""Write WARC records the way Common Crawl does: one gzip member per record."""
from __future__ import annotations

import gzip
import hashlib
import random
import uuid
from base64 import b32encode


def record_id(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def warc_record(rng: random.Random, rtype: str, date: str, block: bytes, uri: str | None = None,
                content_type: str = "application/http; msgtype=response", extra: dict | None = None,
                version_line: bytes = b"WARC/1.0", content_length: str | None = None) -> bytes:
    headers = {"WARC-Type": rtype, "WARC-Record-ID": record_id(rng), "WARC-Date": date}
    if uri:
        headers["WARC-Target-URI"] = uri
    headers |= extra or {}
    headers["Content-Type"] = content_type
    if rtype == "response":
        digest = b32encode(hashlib.sha1(block.split(b"\r\n\r\n", 1)[-1]).digest()).decode()
        headers["WARC-Payload-Digest"] = f"sha1:{digest}"
    headers["Content-Length"] = content_length if content_length is not None else str(len(block))
    head = version_line + b"\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"
    return head + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str, status: str = "200 OK", extra: dict | None = None) -> bytes:
    headers = {"Date": "Mon, 02 Nov 2026 10:00:00 GMT", "Server": "nginx", "Content-Type": content_type,
               "Content-Length": str(len(body))} | (extra or {})
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode() + body


def http_request(url: str) -> bytes:
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: zhinao-sample-crawler/1.0\r\n"
            "Accept: text/html\r\nAccept-Language: zh-CN,en;q=0.8\r\n\r\n").encode()


def gz_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)
