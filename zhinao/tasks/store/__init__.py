"""Versioned datasets on Parquet + the lineage catalog (DESIGN.md, "Dataset versions").

The only code that knows the storage layout: <root>/<dataset>/<version>/{part-*.parquet, manifest.json}.
"""
from .closure import code_fingerprint
from .fingerprint import file_fingerprint
from .fs import Root, open_root
from .ids import version_id
from .manifest import Manifest, Shard, schema_fields
from .store import LineageNode, Store, VersionNotFound, parse_ref
from .writer import VersionWriter, write_shard

__all__ = [
    "LineageNode", "Manifest", "Root", "Shard", "Store", "VersionNotFound", "VersionWriter",
    "code_fingerprint", "file_fingerprint", "open_root", "parse_ref", "schema_fields",
    "version_id", "write_shard",
]
