"""What makes a record unusable before it reaches an Arrow batch: a value of the wrong type or a
string Arrow cannot encode (a lone surrogate). One bad value drops one record, with its reason and
what was wrong, instead of failing the flush of the whole batch."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa

DETAIL_CHARS = 80       # a drop record keeps short strings only (zhinao/tasks/runtime/drops.py)


class BadRecord(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def shown(value: Any, chars: int = 24) -> str:
    """A value as a drop's detail names it: its type and a short repr (which escapes surrogates)."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= chars else text[:chars] + '...'}"


def detail(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


# what a JSONL/Parquet field may hold for each document column (None: missing)
SOURCE_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str, bytes), "url": (str,), "id": (str, int), "timestamp": (str, date), "lang": (str,)}


def source_value(row: dict[str, Any], column: str, field: str) -> Any:
    """The value of the source's `field` for our `column`, or BadRecord('bad_field_type')."""
    value = row.get(field)
    types = SOURCE_TYPES[column]
    if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
        names = " or ".join("string" if t is str else t.__name__ for t in types)
        raise BadRecord("bad_field_type", detail(f"{field}: {shown(value)}, expected {names}"))
    return value


def _wrong(name: str, value: Any, typ: pa.DataType) -> BadRecord | None:
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        if not isinstance(value, str):
            return BadRecord("bad_field_type", detail(f"{name}: {shown(value)}, expected a string"))
        try:
            value.encode()
        except UnicodeEncodeError as e:
            return BadRecord("bad_unicode", detail(f"{name}: {e.reason} ({value[e.start]!r} at character {e.start})"))
    elif pa.types.is_integer(typ):
        bound = 1 << (typ.bit_width - 1)
        if isinstance(value, bool) or not isinstance(value, int) or not -bound <= value < bound:
            return BadRecord("bad_field_type", detail(f"{name}: {shown(value)}, expected an {typ}"))
    elif pa.types.is_floating(typ):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return BadRecord("bad_field_type", detail(f"{name}: {shown(value)}, expected a number"))
    elif pa.types.is_timestamp(typ) and not isinstance(value, datetime):
        return BadRecord("bad_field_type", detail(f"{name}: {shown(value)}, expected a timestamp"))
    return None


def check_row(row: dict[str, Any], schema: pa.Schema) -> BadRecord | None:
    """The first value of `row` that its schema column cannot hold, as the drop it makes."""
    for f in schema:
        value = row.get(f.name)
        if value is not None and (bad := _wrong(f.name, value, f.type)) is not None:
            return bad
    return None


def storable(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """`row` without the values its schema cannot hold: what a dropped row keeps."""
    return {k: v for k, v in row.items()
            if k not in schema.names or v is None or _wrong(k, v, schema.field(k).type) is None}
