"""Content fingerprints of raw input files (crawl files, model weights): what a version id knows of
a file. The whole content is hashed (xxh3-128, ~6 GB/s on one core here, so disk speed decides),
once: the digest is remembered by location, size and modification time, and reused while those
hold. On an object store the store's checksum or modification time (S3's ETag, GCS's crc32c, ...)
is what tells a rewritten object, so it is read once per change too.

A digest is content only (no path, no time), so a copy of a file elsewhere has the same one."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import xxhash

CHUNK = 8 << 20
# what an object store says changes when an object is rewritten
_STAMPS = ("ETag", "etag", "crc32c", "md5Hash", "content_md5", "md5", "LastModified", "mtime", "last_modified")
_lock = threading.Lock()
_memo: Path | None = None


def remember_in(path: Path | None) -> None:
    """Where this process keeps the digests (the opener of the store says: zhinao.tasks.home); None:
    nothing is remembered, every file is hashed when asked."""
    global _memo
    _memo = path


def _cache() -> sqlite3.Connection:
    path = _memo
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60)
    db.execute("CREATE TABLE IF NOT EXISTS digests (location TEXT PRIMARY KEY, size INTEGER, stamp TEXT, digest TEXT)")
    return db


def _hash_stream(fh) -> str:
    h = xxhash.xxh3_128()
    with fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()[:16]


def _remembered(location: str, size: int, stamp: str, compute) -> str:
    """The digest for `location` while its size and stamp (mtime, or a store checksum) hold."""
    if _memo is None:
        return compute()
    with _lock, _cache() as db:
        row = db.execute("SELECT digest FROM digests WHERE location=? AND size=? AND stamp=?",
                         (location, size, stamp)).fetchone()
    if row:
        return row[0]
    digest = compute()
    with _lock, _cache() as db:
        db.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)", (location, size, stamp, digest))
    return digest


def file_fingerprint(uri: str) -> str:
    """Content fingerprint of a local path or any fsspec URI."""
    if "://" not in uri or uri.startswith("file://"):
        path = Path(uri.removeprefix("file://")).resolve()
        st = path.stat()
        return _remembered(str(path), st.st_size, str(st.st_mtime_ns), lambda: _hash_stream(open(path, "rb")))
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    info = fs.info(path)
    stamp = next((str(info[k]) for k in _STAMPS if info.get(k)), "")
    if not stamp:       # nothing tells a rewritten object from the old one: read it every time
        with fs.open(path, "rb") as fh:
            return _hash_stream(fh)
    return _remembered(uri, int(info.get("size") or 0), stamp, lambda: _hash_stream(fs.open(path, "rb")))
