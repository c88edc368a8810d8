"""sft-data: the general SFT set. Chat items from the judged synthetic data, the evolved instructions
and user files (OpenAI messages, ShareGPT, Alpaca), labelled by domain (the topic classifier),
intent and difficulty (heuristic rules, or the generator), and response length, then sampled to
`target_size` stratified over the label combinations with a per-stratum cap. The label
distributions before and after are a table and a chart."""
import logging
import pyarrow.parquet as pq
from typing import Literal

from pydantic import Field, field_validator, model_validator

from zhinao.tasks.chat.layouts import LAYOUTS
from zhinao.tasks.chat.schema import LABELS, LANGS, SFT, check_langs
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.generation import GENERATION_CODE, GenerationParams, gen_split, generator, model_plan, template_sources
from zhinao.tasks.generate.phase import map_job
from zhinao.tasks.generate.prompts import templates_key
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.settings import get_settings
from zhinao.tasks.sftdata.gather import LABELLED, file_name, gather_split
from zhinao.tasks.sftdata.label_job import JOB as LABEL_JOB, LABEL
from zhinao.tasks.sftdata.report import REPORTED, label_table, plot_labels
from zhinao.tasks.sftdata.select import select_split
from zhinao.tasks.sftdata.stratify import sample_shards
from zhinao.tasks.stats import StageStats
from zhinao.tasks.store import file_fingerprint


log = logging.getLogger("zhinao.sft-data")

# generation settings: they shape nothing when the heuristic labeler runs (the seed samples either way)
_GENERATION_ONLY = set(GenerationParams.model_fields) - set(StageParams.model_fields) - {"seed"}


class SftDataParams(GenerationParams):
    datasets: list[str] = Field(["judge", "instruct-evolve"], description="Input datasets (latest versions; pin "
                                "with inputs): judged items (prompt, response) or chat datasets (messages).")
    files: list[str] = Field([], description=f"User chat files (JSONL or a JSON list; layout detected per file: "
                             f"{', '.join(LAYOUTS)}); paths or fsspec URIs.")
    labeler: Literal["heuristic", "generator"] = Field(
        "heuristic", description="Intent and difficulty: keyword and length rules (fast; the CPU default), or a "
        "classification prompt to the generator (model, backend ...), falling back to the rules per label.")
    target_size: int = Field(500_000, gt=0, description="Items in the sample (the 360Zhinao2 article: ~500k); "
                             "fewer when the inputs or the caps hold fewer.")
    max_per_stratum: int | None = Field(None, gt=0, description="Most items of one (domain, intent, difficulty, "
                                        "length_bucket) combination.")
    cap_factor: float | None = Field(3.0, gt=0, description="Also cap a combination at this many times an even "
                                     "share of the target (target / combinations); None: no such cap.")
    length_edges: list[int] = Field([64, 256, 1024], description="Response lengths (words; Han characters count "
                                    "one each) that start the medium, long and very_long buckets.")
    langs: list[str] = Field(list(LANGS), description="Languages kept; items in others are dropped.")
    max_chars: int = Field(2000, gt=0, description="Characters of the user turns the labelers read.")
    rows_per_split: int = Field(256, gt=0, description="Rows per generator actor call (labeler=generator).",
                                json_schema_extra=NOT_IN_KEY)

    @field_validator("length_edges")
    @classmethod
    def _edges(cls, v: list[int]) -> list[int]:
        if len(v) != 3 or not 0 < v[0] < v[1] < v[2]:
            raise ValueError(f"length_edges must be three increasing positive lengths, got {v}")
        return v

    _langs = field_validator("langs")(lambda cls, v: check_langs(v))

    @model_validator(mode="after")
    def _some_input(self):
        if not self.datasets and not self.files:
            raise ValueError("sft-data needs input datasets or files")
        if len(set(self.datasets)) != len(self.datasets) or "topic-model" in self.datasets:
            raise ValueError(f"datasets must be distinct chat or item datasets, got {self.datasets}")
        names = [file_name(f) for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError(f"user files must have distinct names (their items' origin is file:<name>), got {names}")
        return self

    def key_params(self):
        out = super().key_params()
        if self.labeler == "heuristic":
            out = {k: v for k, v in out.items() if k not in _GENERATION_ONLY}
        return out


def _inputs(p: SftDataParams) -> tuple[str, ...]:
    return tuple(p.datasets) + ("topic-model",)


def plan(p: SftDataParams, parents, store) -> Plan:
    *data, topics = parents
    if topics.kind != "model":
        raise ValueError(f"sft-data: {topics.ref} is a {topics.kind} version, not a topic classifier")
    folder = str(store.model_path(topics))
    splits, sources = [], []
    for m in data:
        names = {f["name"] for f in m.schema}
        kind = "chat" if "messages" in names else "items" if {"prompt", "response"} <= names else None
        if kind is None or "id" not in names:
            raise ValueError(f"sft-data: {m.ref} is neither a chat dataset (id, messages) nor judged items "
                             f"(id, prompt, response); it has columns {sorted(names)}")
        splits += [{"kind": kind, "origin": m.dataset, "root": store.root, "path": path} for path in store.shard_paths(m)]
    for uri in p.files:
        try:
            fingerprint = file_fingerprint(uri)
        except FileNotFoundError:
            raise FileNotFoundError(f"sft-data: user file {uri} does not exist") from None
        splits.append({"kind": "file", "uri": uri})
        sources.append({"uri": uri, "name": f"file/{file_name(uri)}", "fingerprint": fingerprint})
    for s in splits:
        s["model_folder"] = folder
    info, model_parents = {}, []
    if p.labeler == "generator":
        info, model_sources, model_parents = model_plan(p, store)
        sources += model_sources + template_sources(templates_key(LABEL))
    return Plan(splits=splits, sources=sources, schema=SFT, info=info, parents=model_parents)


def _relabel(ctx, paths: list[list[str]], stats: StageStats) -> list[list[str]]:
    """The generator labeler over every labelled shard: the same shards, relabelled."""
    flat = [path for group in paths for path in group]
    with generator(ctx) as spec:
        splits = [gen_split(ctx, spec, LABELLED, path=path) for path in flat]
        results, folder, _ = map_job(ctx, LABEL_JOB, splits, "labels", stats)
    relabelled = iter([[ctx.store.root.join(folder, s.path) for s in r.shards] for r in results])
    return [[p for _ in group for p in next(relabelled)] for group in paths]


def run(ctx):
    p, root = ctx.params, ctx.store.root
    labelled, bad = f"{ctx.scratch}/labelled", f"{ctx.scratch}/bad"
    first = ctx.map(gather_split, ctx.plan.splits, "read + label", output=labelled, audit=bad)
    paths = [[root.join(labelled, s.path) for s in r.shards] for r in first]
    phase = StageStats()
    if p.labeler == "generator":
        paths = _relabel(ctx, paths, phase)
    columns = ["id", *LABELS, *(c for c in REPORTED if c not in LABELS), "label_source"]
    shards = [pq.read_table(path, columns=columns, filesystem=root.fs).to_pylist() for group in paths for path in group]
    sample = sample_shards(shards, LABELS, p.target_size, p.max_per_stratum, p.cap_factor, p.seed)
    got = sample["summary"]
    log.info("sampling %d items in %d label combinations to %d (cap %s per combination): %d items in %d",
             got["items_before"], got["strata_before"], p.target_size, got["stratum_cap"], got["items_after"],
             got["strata_after"])
    splits, k = [], 0
    for r, group in zip(first, paths):
        keep, reasons = set(), {}
        for _ in group:
            keep |= sample["keep"][k]
            reasons |= sample["reasons"][k]
            k += 1
        splits.append({"root": root, "paths": group, "bad": [root.join(bad, s.path) for s in r.audit_shards],
                       "keep": keep, "reasons": reasons})
    results = ctx.final(select_split, splits, desc="sample")
    out = results[0].stats
    out.merge(phase)
    out.count("rows_in", sum(r.stats.counters.get("rows_in", 0) for r in first))
    for key, value in sample["summary"].items():
        if value is not None:
            out.count(key, value)
    for row in sample["before"]:
        out.observe("label_source", row["label_source"])
    table = label_table(sample["before"], sample["after"])
    out.table("labels", table)
    out.table("sampling", [sample["summary"]])
    files = [row for r in first for row in r.stats.tables.get("file", [])]
    if files:
        out.table("files", files)
    if table:
        png = plot_labels(table, get_settings().reports / f"sft-data-{ctx.version}.png",
                          f"SFT labels before and after stratified sampling (target {p.target_size})")
        out.table("plots", [{"plot": "label distributions before and after sampling", "path": str(png)}])
    return results


SFT_DATA_STAGE = Stage(
    name="sft-data", tags=("post-training",), params=SftDataParams, plan=plan, process=select_split, schema=SFT, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.sftdata", "zhinao.tasks.chat", "zhinao.tasks.topics.classifier", "zhinao.tasks.topics.features",
                            "zhinao.tasks.topics.charts"),
    inputs=_inputs,
    description="General SFT data from judged items, evolved instructions and user files (OpenAI / ShareGPT / "
                "Alpaca), labelled by domain, intent, difficulty and length, sampled stratified with caps.")
