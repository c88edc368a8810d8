"""Resolve a store root (local folder or URI) to a pyarrow filesystem and base path."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs


@dataclass(frozen=True)
class Root:
    uri: str                       # as configured; picklable, so Ray tasks rebuild the fs from it
    fs: pafs.FileSystem
    base: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def read_text(self, path: str) -> str:
        with self.fs.open_input_stream(path) as f:
            return f.read().decode()

    def write_text(self, path: str, text: str) -> None:
        with self.fs.open_output_stream(path) as f:
            f.write(text.encode())

    def listdir(self, path: str) -> list[pafs.FileInfo]:
        if not self.exists(path):
            return []
        return self.fs.get_file_info(pafs.FileSelector(path, recursive=False))

    def __reduce__(self):
        return (open_root, (self.uri,))


def open_root(uri: str) -> Root:
    """Local paths use the native filesystem; s3://, gs://, hdfs:// go through pyarrow, anything
    else that fsspec knows (memory://, abfs://, ...) through pyarrow's fsspec bridge."""
    if "://" not in uri or uri.startswith("file://"):
        path = Path(uri.removeprefix("file://")).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return Root(uri, pafs.LocalFileSystem(), path.as_posix())
    try:
        fs, base = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError):  # pyarrow.ArrowInvalid is a ValueError
        import fsspec

        fsspec_fs, base = fsspec.core.url_to_fs(uri)
        fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec_fs))
    fs.create_dir(base, recursive=True)
    return Root(uri, fs, base.rstrip("/"))
