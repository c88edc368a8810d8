"""preference-data: (prompt, chosen, rejected) pairs for the reward model, made offline with a
signal a checker confirms (correct vs corrupted math answers, responses that follow vs break
verifiable instructions), optionally judge-ranked items, and user files in the common layouts."""
from __future__ import annotations

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.ingest.sources import detect_format, expand, split_for
from zhinao.tasks.params import StageParams
from zhinao.tasks.reward.pair_sources import GENERATED, make_pairs
from zhinao.tasks.reward.pairs import SCHEMA
from zhinao.tasks.reward.pairs_ifeval import EDITS
from zhinao.tasks.reward.pairs_math import CORRUPTIONS
from zhinao.tasks.store import file_fingerprint
from zhinao.tasks.topics.taxonomy import load_taxonomy


class PreferenceDataParams(StageParams):
    sources: list[str] = Field(default_factory=lambda: ["math", "ifeval"], description=(
        "Generated pairs to make: math (correct vs corrupted worked answers), ifeval (responses that follow vs "
        "break verifiable instructions), judge (best vs worst judged items of one source in the latest `judge` "
        "version, or -i judge=...)."))
    files: list[str] = Field(default_factory=list, description=(
        "User preference files (.jsonl, .jsonl.gz, .parquet; folders and globs too): prompt/chosen/rejected "
        "text, HH transcripts, or chosen/rejected message lists (HH-RLHF chat form, UltraFeedback-binarized)."))
    math_pairs: int = Field(100, ge=0, description="Math pairs to generate (before the checker's refusals).")
    ifeval_pairs: int = Field(400, ge=0, description="Instruction-following pairs to generate (before refusals).")
    judge_pairs: int = Field(200, ge=0, description="At most this many judge-ranked pairs.")
    judge_min_gap: float = Field(1.0, ge=0, description="Least judge_mean difference of a judge-ranked pair.")
    langs: list[str] = Field(default_factory=lambda: ["en", "zh"], description="Languages of generated pairs.")
    seed: int = 0
    math_corruptions: list[str] = Field(default_factory=lambda: list(CORRUPTIONS), description=(
        "final_answer: only the #### answer is wrong; arithmetic: one step is wrong and carried through."))
    max_constraints: int = Field(1, ge=1, le=3, description="Instructions per ifeval prompt (1 to this many).")
    instructions: list[str] = Field(default_factory=list, description=(
        "IFEval instruction ids the ifeval pairs draw from (default: all 18 that have an edit, "
        "zhinao/tasks/reward/pairs_ifeval.py EDITS)."))
    max_response_chars: dict[str, PositiveInt] = Field(default_factory=lambda: {"en": 200, "zh": 70}, description=(
        "Length of the article text an ifeval response starts from, per language (the sample's tiny reward "
        "model reads 256 tokens)."))
    shard_rows: int = Field(5000, gt=0, description="Pairs per output Parquet shard.")

    @field_validator("sources", "instructions")
    @classmethod
    def _known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        known, hint = (GENERATED, "user files go in `files`") if info.field_name == "sources" else \
            (EDITS, "the instructions that have a pair edit")
        unknown = sorted(set(v) - set(known))
        if unknown:
            raise ValueError(f"unknown {info.field_name} {unknown}; choose from {sorted(known)} ({hint})")
        return v

    @field_validator("langs")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        if not v or set(v) - {"en", "zh"}:
            raise ValueError(f"langs must be a non-empty subset of ['en', 'zh'], got {v}")
        return v


def inputs(p: PreferenceDataParams) -> tuple[str, ...]:
    return ("judge",) if "judge" in p.sources else ()


def plan(p: PreferenceDataParams, parents, store) -> Plan:
    if not p.sources and not p.files:
        raise ValueError("preference-data: nothing to make; name `sources` or `files`")
    splits: list[dict] = [{"kind": k} for k in p.sources if k != "judge"]
    splits += [{"kind": "judge", "root": store.root, "paths": store.shard_paths(m)} for m in parents]
    files = expand(p.files) if p.files else []
    wrong = [f for f in files if detect_format(f) not in ("jsonl", "parquet")]
    if wrong:
        raise ValueError(f"preference files must be .jsonl[.gz] or .parquet, not {wrong[0]!r}")
    splits += [{"kind": "file", "uri": f} for f in files]
    sources = [{"uri": f, "name": split_for(f)["source"], "fingerprint": file_fingerprint(f)} for f in files]
    if "ifeval" in p.sources:           # the topic names its requests are about
        sources.append({"name": "taxonomy", "fingerprint": load_taxonomy().fingerprint})
    return Plan(splits=splits, sources=sources)


PREFERENCE_DATA = Stage(
    name="preference-data", tags=("post-training",), params=PreferenceDataParams, plan=plan, process=make_pairs, schema=SCHEMA,
    code=("zhinao.tasks.reward.pair_sources", "zhinao.tasks.runtime.sink"), inputs=inputs,
    description="Preference pairs for the reward model: checked math and instruction-following pairs made "
                "offline, judge-ranked items, user files; bad rows counted by reason.")
