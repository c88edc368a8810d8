"""annotate: a deterministic sample of documents labelled with one of the 42 topics by a strong
annotator: an LLM through the generator interface (GPU), or zero-shot embeddings + keywords (CPU)."""
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from zhinao.tasks.bounds import NonNegative
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.engine import GenerateRows
from zhinao.tasks.generate.generation import (GENERATION_CODE, GENERATOR_ACTORS, GenerationParams, gen_split,
                                              generator, model_plan, template_sources)
from zhinao.tasks.generate.models import model_sources
from zhinao.tasks.generate.prompts import templates_key
from zhinao.tasks.generate.service import choose_backend
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.runtime.docstage import sampled_shards
from zhinao.tasks.runtime.ray_exec import Actors
from zhinao.tasks.semantic.encoder import DEFAULT_MODEL, resolve_model
from zhinao.tasks.topics.annotate import SCHEMA, annotate_shard
from zhinao.tasks.topics.llm_label import JOB, LABEL
from zhinao.tasks.topics.taxonomy import load_taxonomy


_EMBEDDING_FIELDS = {"encoder", "zero_shot_temperature", "lexical_weight"}
_GENERATION_FIELDS = (set(GenerationParams.model_fields) - set(StageParams.model_fields)) | {"votes"}


class AnnotateParams(GenerationParams):
    annotator: Literal["auto", "embedding", "llm"] = Field(
        "auto", description="llm: the generator model picks a category (meant for a strong model on GPU); "
        "embedding: zero-shot MiniLM similarity to the category descriptions plus their keywords (CPU). "
        "auto: llm where generation would run on vLLM (CUDA), else embedding.")
    docs: int = Field(50_000, ge=0, description="Documents to annotate (a deterministic sample); 0: all.")
    taxonomy: str | None = Field(None, description="A taxonomy JSON file; default: the built-in 42 topics.")
    max_chars: int = Field(2000, gt=0, description="Characters of each document the annotator reads (and "
                                                   "the classifier is trained on).")
    min_confidence: float = Field(0.0, ge=0, le=1, description="Annotations below this confidence are left out "
                                  "of the training data (dropped as low_confidence).")
    encoder: str = Field(DEFAULT_MODEL, description="Sentence-transformers model of the embedding annotator.")
    zero_shot_temperature: float = Field(0.05, gt=0, description="Softmax temperature of the zero-shot scores "
                                                                 "(the confidence).")
    lexical_weight: dict[str, NonNegative] = Field(default_factory=lambda: {"zh": 2.0}, description=(
        "Per language, the weight of description keyword counts added to the cosine similarity (MiniLM reads "
        "English only, so Chinese relies on keywords)."))
    embed_batch_size: int = Field(64, gt=0, json_schema_extra=NOT_IN_KEY)
    votes: int = Field(1, gt=0, description="llm: answers sampled per document; the majority label wins.")
    max_tokens: int = Field(16, gt=0)
    temperature: float = Field(0.7, ge=0)

    def key_params(self) -> dict[str, Any]:
        """Only the chosen annotator's parameters name the output (auto keeps both; the plan adds
        which one ran)."""
        key = super().key_params()
        if self.annotator == "embedding":
            return {k: v for k, v in key.items() if k not in _GENERATION_FIELDS}
        if self.annotator == "llm":
            return {k: v for k, v in key.items() if k not in _EMBEDDING_FIELDS}
        return key


def resolve_annotator(p: AnnotateParams) -> str:
    if p.annotator != "auto":
        return p.annotator
    return "llm" if choose_backend(p.backend, p.endpoint) in ("vllm", "openai") else "embedding"


def plan(p: AnnotateParams, parents, store) -> Plan:
    taxonomy = load_taxonomy(p.taxonomy)
    splits = sampled_shards(parents, store, p.docs, "annotate")
    kind = resolve_annotator(p)
    sources = [{"name": f"annotator/{kind}", "fingerprint": kind},
               {"name": "taxonomy", "fingerprint": taxonomy.fingerprint}]
    if kind == "llm":
        info, model, model_parents = model_plan(p, store)
        return Plan(splits=splits, sources=sources + model + template_sources(templates_key({"label": LABEL})),
                    schema=SCHEMA, info=info | {"annotator": kind}, parents=model_parents)
    path = resolve_model(p.encoder)
    for s in splits:
        s["model_path"] = str(path)
    return Plan(splits=splits, sources=sources + model_sources(Path(path)), schema=SCHEMA, info={"annotator": kind})


def run(ctx):
    if ctx.plan.info["annotator"] == "embedding":
        return ctx.final(annotate_shard, ctx.plan.splits, desc="zero-shot annotation", actors=Actors(gpus=1))
    with generator(ctx) as spec:
        splits = [gen_split(ctx, spec, SCHEMA, path=s["path"], ids=s["ids"]) for s in ctx.plan.splits]
        return ctx.final(GenerateRows(JOB), splits, desc="LLM annotation", actors=GENERATOR_ACTORS)


ANNOTATE = Stage(
    name="annotate", tags=("data", "topics"), pipeline="data", params=AnnotateParams, plan=plan, process=annotate_shard, schema=SCHEMA, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.topics",), inputs=("dedup-semantic",),
    description="Topic labels (42-category taxonomy) for a sample of documents, by an LLM or zero-shot "
                "embeddings: the training data of the topic classifier.")
