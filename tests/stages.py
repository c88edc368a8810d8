"""Tiny stages for store and contract tests: importable by Ray workers and subprocesses."""
import os
import time

import pyarrow as pa
from pydantic import Field

from zhinao.tasks.params import StageParams
from zhinao.tasks.declare import Plan, Stage

# a variable that (in a real stage) would select behaviour: part of these stages' version ids
EXTERNAL = {"env": ("ZHINAO_TEST_KNOB",)}

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("n", pa.int64())])


class NumParams(StageParams):
    count: int = 20
    per_split: int = 5
    scale: int = 1
    slow_after_first_shard: float = Field(0.0, json_schema_extra={"cache_key": False})
    calls_file: str | None = Field(None, json_schema_extra={"cache_key": False})


def plan_numbers(params, parents, store):
    starts = list(range(0, params.count, params.per_split))
    return Plan(splits=[{"start": s, "stop": min(s + params.per_split, params.count)} for s in starts])


def make_numbers(split, params, sink, stats):
    if params.calls_file:
        with open(params.calls_file, "a") as f:
            f.write(f"{split['start']}\n")
    rows = list(range(split["start"], split["stop"]))
    sink.write(pa.table({"id": [f"n{i}" for i in rows], "text": [str(i) for i in rows],
                         "n": [i * params.scale for i in rows]}, schema=SCHEMA))
    stats.count("rows_out", len(rows))
    if params.slow_after_first_shard and split["start"] == 0:
        open(os.environ["ZHINAO_TEST_SIGNAL"], "w").close()
        time.sleep(params.slow_after_first_shard)


def plan_from_parent(params, parents, store):
    return Plan(splits=[{"paths": store.shard_paths(p), "root": store.root} for p in parents])


def double(split, params, sink, stats):
    import pyarrow.parquet as pq

    for path in split["paths"]:
        t = pq.read_table(path, filesystem=split["root"].fs)
        stats.count("rows_in", t.num_rows)
        keep = pa.compute.equal(pa.compute.bit_wise_and(t["n"], 1), 0)
        odd = t.filter(pa.compute.invert(keep))
        stats.drop("odd", odd.num_rows)
        sink.drop(odd.append_column("drop_reason", pa.array(["odd"] * odd.num_rows, pa.string())))
        t = t.filter(keep)
        sink.write(t.set_column(2, "n", pa.compute.multiply(t["n"], 2)))


class DerivedParams(StageParams):
    pass


NUMBERS = Stage("numbers", NumParams, plan_numbers, make_numbers, SCHEMA, code=("tests.stages",))
EVENS = Stage("evens", DerivedParams, plan_from_parent, double, SCHEMA, code=("tests.stages",), inputs=("numbers",))
QUADS = Stage("quads", DerivedParams, plan_from_parent, double, SCHEMA, code=("tests.stages",), inputs=("evens",))


class BlobParams(StageParams):
    splits: int = 8
    kib: int = 256                # incompressible bytes per split


def plan_blobs(params, parents, store):
    return Plan(splits=list(range(params.splits)))


def make_blobs(split, params, sink, stats):
    sink.write(pa.table({"id": [f"b{split}"], "text": [os.urandom(params.kib << 10).hex()[: params.kib << 10]],
                         "n": [split]}, schema=SCHEMA))


# writes more than a small disk holds (the disk-full tests)
BLOBS = Stage("blobs", BlobParams, plan_blobs, make_blobs, SCHEMA, code=("tests.stages",), retries=2,
              retry_delay_s=0.1)
