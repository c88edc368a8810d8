"""The document schema every stage shares (DESIGN.md); stages add their own columns."""
from __future__ import annotations

import pyarrow as pa

DOCUMENT = pa.schema([
    ("id", pa.string()),
    ("text", pa.string()),          # empty until extraction for HTML pages
    ("url", pa.string()),
    ("source", pa.string()),        # the input file (or source name) the document came from
    ("lang", pa.string()),          # declared language at ingest; the langid stage replaces it
    ("timestamp", pa.timestamp("us", tz="UTC")),
])


def extend(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    schema = DOCUMENT
    for name, typ in fields:
        schema = schema.append(pa.field(name, typ))
    return schema

