"""Conditional writes of small objects (manifests, leases): create only if absent, replace or delete
only if unchanged since read. Local disk: hard links and a lock file; S3 (and S3-compatible stores
that enforce them): If-None-Match / If-Match; other filesystems: check-then-write, which is atomic
only within one process (said in the README)."""
from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import uuid
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

import pyarrow.fs as pafs

from .fs import Root

_process_lock = threading.Lock()


def tag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Conditional:
    """The three operations; `tag` is what read() returned (an ETag on S3, a content hash elsewhere)."""

    def __init__(self, root: Root):
        self.root = root
        self._s3 = _s3_client(root.uri) if isinstance(root.fs, pafs.S3FileSystem) else None

    # ---- reading ---------------------------------------------------------------------------------
    def read(self, path: str) -> tuple[bytes, str] | None:
        if self._s3 is not None:
            bucket, key = _split(path)
            try:
                r = self._s3.get_object(Bucket=bucket, Key=key)
            except self._s3.exceptions.NoSuchKey:
                return None
            return r["Body"].read(), r["ETag"]
        if not self.root.exists(path):
            return None
        try:
            with self.root.fs.open_input_stream(path) as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return data, tag_of(data)

    # ---- writing ---------------------------------------------------------------------------------
    def create(self, path: str, data: bytes) -> str | None:
        """Write `data` at `path` unless something is there: its tag when this call created it, else None."""
        if self._s3 is not None:
            bucket, key = _split(path)
            return self._s3_conditional(lambda: self._s3.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*"))
        if self.root.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)          # fails if path exists: the atomic create-if-absent
                return tag_of(data)
            except FileExistsError:
                return None
            finally:
                os.unlink(tmp)
        with _process_lock:
            if self.root.exists(path):
                return None
            self.root.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
            with self.root.fs.open_output_stream(path) as f:
                f.write(data)
            return tag_of(data)

    def replace(self, path: str, data: bytes, tag: str) -> str | None:
        """Overwrite `path` only if it still holds what was read with `tag`: the new tag, else None."""
        if self._s3 is not None:
            bucket, key = _split(path)
            return self._s3_conditional(lambda: self._s3.put_object(Bucket=bucket, Key=key, Body=data, IfMatch=tag))
        with self._locked(path):
            current = self.read(path)
            if current is None or current[1] != tag:
                return None
            if self.root.is_local:
                tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            else:
                with self.root.fs.open_output_stream(path) as f:
                    f.write(data)
            return tag_of(data)

    def delete(self, path: str, tag: str) -> bool:
        """Remove `path` only if it still holds what was read with `tag`."""
        if self._s3 is not None:
            bucket, key = _split(path)
            return self._s3_conditional(lambda: self._s3.delete_object(Bucket=bucket, Key=key, IfMatch=tag)) is not None
        with self._locked(path):
            current = self.read(path)
            if current is None or current[1] != tag:
                return False
            self.root.fs.delete_file(path)
            return True

    # ---- helpers ---------------------------------------------------------------------------------
    def _s3_conditional(self, call) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return call().get("ETag", "")
        except ClientError as e:
            # 412: the condition failed; 409: a concurrent conditional write to the same key won
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412) or \
                    e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return None
            raise

    @contextmanager
    def _locked(self, path: str):
        if not self.root.is_local:
            with _process_lock:
                yield
            return
        fd = os.open(f"{path}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)            # closing releases the lock


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    return bucket, key


@lru_cache(maxsize=8)
def _s3_client(uri: str):
    """A boto3 client for the same store pyarrow talks to: the URI's endpoint_override/scheme/region
    query parameters, else the usual AWS_* environment (AWS_ENDPOINT_URL included)."""
    try:
        import boto3
    except ImportError as e:
        raise ImportError("an s3:// store needs boto3 for its conditional writes: pip install -e '.[s3]'") from e
    query = {k: v[-1] for k, v in parse_qs(urlsplit(uri).query).items()}
    kwargs = {}
    if endpoint := query.get("endpoint_override"):
        kwargs["endpoint_url"] = endpoint if "://" in endpoint else f"{query.get('scheme', 'https')}://{endpoint}"
    if region := query.get("region"):
        kwargs["region_name"] = region
    return boto3.session.Session().client("s3", **kwargs)
