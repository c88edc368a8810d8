"""evaluate: a model version (or any HF folder, or the default generator) over a suite of eval
tasks (perplexity / bits per byte by language, topic and source; multiple choice by
log-likelihood; GSM8K-style math by generation; IFEval-style verifiable instructions; needle in a
haystack), committed as an eval version: per-item rows, scores per task and group, plots."""
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.eval.backend import loglik_backend
from zhinao.tasks.eval.niah.haystack import read_documents, script_lang, text_files
from zhinao.tasks.eval.run import SCHEMA, TASKS, headline, run_model_suite
from zhinao.tasks.generate.generation import GENERATION_CODE, GenerationParams, model_plan
from zhinao.tasks.generate.service import choose_backend
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY
from zhinao.tasks.settings import get_settings
from zhinao.tasks.store import file_fingerprint


class EvalParams(GenerationParams):
    model: str = Field("pretrain-stage2", json_schema_extra=NAMES_VERSION, description="A model version (DATASET[@VERSION]), a local Hugging Face "
                       "folder, or 'smollm2-135m-instruct' (the offline default generator).")
    tasks: list[str] = Field(list(TASKS), description=f"Any of {', '.join(TASKS)}.")
    limit: int | None = Field(None, gt=0, description="At most this many items per task (per subject for mc).")
    perplexity_data: str | None = Field(None, description="Held-out text for perplexity and the needle-in-a-"
                                        "haystack haystacks: a document dataset version (text, lang, topic, source "
                                        "columns) or a folder of .txt files (one document each), .jsonl or .parquet "
                                        "(`text`); default: sample articles of another seed than the sample crawl's.")
    perplexity_per_topic: int = Field(2, gt=0, description="Default held-out set: articles per topic and language.")
    perplexity_max_chars: int | None = Field(4000, gt=0, description="Documents are cut to this many characters.")
    mc_path: str | None = Field(None, description="A folder in the CMMLU, C-Eval or MMLU layout; default: a "
                                "generated arithmetic multiple-choice set.")
    mc_subjects: list[str] = Field([], description="Subjects of mc_path (default: all).")
    mc_lang: str = Field("en", description="Prompt language of mc_path: en (MMLU) or zh (CMMLU, C-Eval).")
    mc_shots: int = Field(1, ge=0)
    mc_items: int = Field(8, gt=0, description="Default set: items per subject.")
    gsm8k_path: str | None = Field(None, description="GSM8K's test.jsonl (question, answer ending '#### N'); "
                                   "default: generated arithmetic word problems.")
    gsm8k_shots_path: str | None = Field(None, description="Where few-shot examples come from (GSM8K's train.jsonl).")
    gsm8k_shots: int = Field(2, ge=0)
    gsm8k_items: int = Field(6, gt=0, description="Default set: problems.")
    ifeval_path: str | None = Field(None, description="IFEval's input_data.jsonl layout; default: the 12 English "
                                    "and 12 Chinese prompts shipped with tasks/eval/ifeval.")
    niah_lengths: list[PositiveInt] = Field([384, 768], description="Context lengths (tokens of the model's "
                                            "tokenizer); lengths over the model's context are skipped and counted.")
    niah_depths: int = Field(3, ge=2, description="Depths from 0% to 100% in this many steps.")
    niah_langs: list[Literal["en", "zh"]] | None = Field(None, description="Needle languages; default: those "
                                                         "the haystack text holds (by script).")
    niah_variants: list[str] = Field(["fact", "value"])
    niah_mode: Literal["generate", "teacher-forced"] = Field("generate", description=(
        "generate: the model answers and the answer is matched (pattern, presence, fuzzy); teacher-forced: the "
        "expected answer's tokens scored after the prompt, found when each is the model's top choice (no "
        "generation: fast at long lengths)."))
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(192, gt=0)
    loglik_batch_size: int = Field(8, gt=0, json_schema_extra=NOT_IN_KEY)
    loglik_backend: Literal["auto", "transformers", "vllm"] = Field(
        "auto", description="Log-likelihood tasks (mc, perplexity): transformers in process, or vllm: the prompt "
        "logprobs of the generation server (backend=vllm or an endpoint). auto: vllm where generation runs on "
        "a server, else transformers.", json_schema_extra=NOT_IN_KEY)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, v: list[str]) -> list[str]:
        """Refused when the parameters are read, not after the model is loaded on a Ray worker."""
        unknown = sorted(set(v) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown eval task(s) {unknown}; tasks: {list(TASKS)}")
        return v


def eval_file_sources(p: EvalParams) -> list[dict]:
    files = []
    if p.mc_path:
        files += sorted(Path(p.mc_path).expanduser().rglob("*.csv"))
    for f in (p.gsm8k_path, p.gsm8k_shots_path, p.ifeval_path):
        if f:
            files.append(Path(f).expanduser())
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"eval file(s) not found: {missing}")
    named = [(f, f"eval/{f.name}") for f in files]
    folder = held_out_folder(p)
    if folder is not None:
        named += [(f, f"held-out/{f.relative_to(folder).as_posix()}") for f in text_files(folder)]
    return [{"uri": str(f), "name": name, "fingerprint": file_fingerprint(str(f))} for f, name in named]


def held_out_folder(p: EvalParams) -> Path | None:
    """perplexity_data as a folder of text files (a path), or None (a dataset version, or unset)."""
    value = p.perplexity_data
    if not value or not ("/" in value or value.startswith(("~", ".")) or Path(value).expanduser().is_dir()):
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"perplexity_data: folder {value!r} does not exist")
    if not text_files(folder):
        raise ValueError(f"perplexity_data: folder {value!r} holds no .txt, .jsonl or .parquet file")
    return folder


def plan(p: EvalParams, parents, store) -> Plan:
    loglik_backend(p.loglik_backend, choose_backend(p.backend, p.endpoint))     # a bad choice fails here
    info, sources, model_parents = model_plan(p, store)
    extra = list(model_parents)
    if p.perplexity_data and {"perplexity", "niah"} & set(p.tasks):
        folder = held_out_folder(p)
        if folder is not None:
            info["held_out_folder"] = str(folder)          # its files are sources (eval_file_sources)
        else:
            data = store.resolve(p.perplexity_data)
            extra.append(data)
            info["perplexity_paths"] = store.shard_paths(data)
    split = {"root": store.root, **info}
    return Plan(splits=[split], sources=sources + eval_file_sources(p), schema=SCHEMA, parents=extra, info=info)


def run_eval(split, params, sink, stats) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = None
    if split.get("held_out_folder"):
        folder = split["held_out_folder"]
        rows = [{"id": doc_id, "text": text, "lang": script_lang(text), "topic": None, "source": Path(folder).name}
                for doc_id, text in read_documents(folder)]
    elif split.get("perplexity_paths"):
        cols = ["id", "text", "lang", "topic", "source"]
        tables = [pq.read_table(path, filesystem=split["root"].fs) for path in split["perplexity_paths"]]
        t = pa.concat_tables(tables, promote_options="default")
        rows = t.select([c for c in cols if c in t.column_names]).to_pylist()
    out = run_model_suite(params, split["model_path"], split["served_name"],
                          get_settings().reports / f"evaluate-{split['version']}", docs=rows)
    sink.write(pa.Table.from_pylist(out["rows"], schema=SCHEMA), keep_empty=True)
    for task, table in (out["tables"] | out["extra"]).items():
        stats.table(task, table)
    stats.table("scores", headline(out["tables"], out["skipped"]))
    stats.table("backends", [out["backends"]])
    for task, skipped in out["skipped"].items():
        stats.table(f"{task}_skipped", skipped)
        stats.count(f"{task}_lengths_skipped", len(skipped))
    if out["plots"]:
        stats.table("plots", [{"plot": what, "path": str(png)} for what, png in out["plots"]])
    stats.count("items", len(out["rows"]))


def run(ctx):
    return ctx.final(run_eval, [s | {"version": ctx.version} for s in ctx.plan.splits], desc="evaluate")


EVALUATE = Stage("evaluate", EvalParams, plan, run_eval, SCHEMA, kind="eval", run=run, tags=("model", "evaluation"),
                 code=("zhinao.tasks.eval",) + GENERATION_CODE, retries=1,
                 description="Evaluate a model version: perplexity by group, multiple choice, math, verifiable "
                             "instructions, needle in a haystack; an eval version of per-item results and scores.")
