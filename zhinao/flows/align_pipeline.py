"""The alignment pipeline (360Zhinao2, 2.2 and figure 5): from the SFT model (`sft-base`) and a
reward model, three routes (RL with the reward model: grpo or remax; iterative on-policy DPO; LoRA
DPO on the preference sets), their models interpolated into v1, then extrapolated from sft-base
through v1 (theta = v1 + alpha (v1 - sft), alpha 0.2), every model evaluated, one comparison table
and plot, and the chat model chosen by a stated metric: the chat-model stage
(zhinao/tasks/align/choose_stage.py), whose parents are the chosen model and every candidate's
evaluation, so its lineage runs back through the routes to the crawl."""
from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.context import FlowRunContext
from pydantic import BaseModel, ConfigDict, Field, model_validator

from zhinao.tasks.align.choose import route_weights, text_table
from zhinao.tasks.align.choose_stage import ChatModelParams
from zhinao.tasks.align.merge_stage import MergeParams
from zhinao.tasks.align.pairs_stage import DPOPairsParams
from zhinao.tasks.align.stage import DPOLoraParams, GRPOParams, LoraParams, ReMaxParams
from zhinao.tasks.eval.stage import EvalParams
from zhinao.tasks.home import open_store

from .dpo_iterative import DPOIterativeParams, dpo_iterative, pinned
from .hooks import run_logger
from .stage import StageResult
from .stages import dpo_lora, evaluate, flows, merge


def _light_eval() -> EvalParams:
    return EvalParams(tasks=["perplexity", "ifeval"], limit=12, max_tokens=64)


# sample-sized routes (the tiny model on the sample's preference data); the report's values at scale
# are each stage's own defaults or named in its description (LoRA r 256, alpha 512, max length 2048)
def _sample_iterative() -> DPOIterativeParams:
    return DPOIterativeParams(pairs=DPOPairsParams(prompts=16, n=4, max_tokens=48))


def _sample_lora() -> DPOLoraParams:
    return DPOLoraParams(lora=LoraParams(r=16, alpha=32), max_length=512)


class AlignPipelineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sft: str = Field("sft", description="The SFT model every route starts from (the report's sft-base).")
    reward_model: str = Field("reward-model", description="The reward model of RL and of the on-policy pairs.")
    rl: Literal["grpo", "remax"] = Field("grpo", description="The RL route's method.")
    grpo: GRPOParams = Field(default_factory=GRPOParams)
    remax: ReMaxParams = Field(default_factory=ReMaxParams)
    dpo_iterative: DPOIterativeParams | None = Field(default_factory=_sample_iterative, description=(
        "The iterative on-policy DPO route (sample-sized: 16 prompts, 4 answers each, 2 rounds); null: left out."))
    dpo_lora: DPOLoraParams | None = Field(default_factory=_sample_lora, description=(
        "The LoRA DPO route (sample-sized: r 16, alpha 32, 512 tokens; the report: r 256, alpha 512, 2048); "
        "null: left out."))
    weights: dict[str, float] | None = Field(None, description=(
        "Interpolation weights of the routes' models into v1, by route (grpo|remax, dpo-iterative, dpo-lora); "
        "default equal. They are normalised to sum to 1."))
    alpha: float = Field(0.2, description="Extrapolation from sft through v1: v1 + alpha (v1 - sft) (0.2).")
    evaluation: EvalParams = Field(default_factory=_light_eval, description=(
        "The evaluate stage's parameters for every model (its `model` is each model in turn)."))
    select_metric: str = Field("ifeval", description=(
        "The evaluated task whose headline score picks the chat model (perplexity: bits per byte, lower is "
        "better; mc, gsm8k, ifeval, niah: higher)."))
    select_from: list[str] = Field(["v1", "chat"], description=(
        "The candidates: model names of the table (sft, the routes, v1 = interpolated, chat = extrapolated)."))

    @model_validator(mode="after")
    def _check(self) -> "AlignPipelineParams":
        if self.select_metric not in self.evaluation.tasks:
            raise ValueError(f"select_metric {self.select_metric!r} is not among evaluation.tasks "
                             f"{self.evaluation.tasks}")
        return self


@flow(name="align", description="Alignment: sft -> {grpo|remax, dpo-iterative, dpo-lora} -> interpolate -> "
                                "extrapolate (0.2) -> evaluate every model -> comparison -> the chat model.",
      persist_result=False)
def align(params: AlignPipelineParams = AlignPipelineParams()) -> list[StageResult]:
    store = open_store()
    sft, rm = pinned(params.sft, store), pinned(params.reward_model, store)
    results: list[StageResult] = []
    rl = getattr(params, params.rl)             # the RL route's params, named by its method
    routes = {params.rl: flows()[params.rl](rl.model_copy(update={"model": sft, "reward_model": rm}))}
    if params.dpo_iterative is not None:
        it = params.dpo_iterative
        rounds = dpo_iterative(it.model_copy(update={"model": sft, "pairs": it.pairs.model_copy(
            update={"reward_model": rm})}))
        results += rounds[:-1]
        routes["dpo-iterative"] = rounds[-1]
    if params.dpo_lora is not None:
        routes["dpo-lora"] = dpo_lora(params.dpo_lora.model_copy(update={"model": sft}))
    results += list(routes.values())
    names = list(routes)
    v1 = merge(MergeParams(method="interpolate", models=[routes[n].ref for n in names],
                           weights=route_weights(names, params.weights)))
    chat = merge(MergeParams(method="extrapolate", models=[v1.ref], base=sft, alpha=params.alpha))
    results += [v1, chat]
    models = {"sft": sft, **{n: r.ref for n, r in routes.items()}, "v1": v1.ref, "chat": chat.ref}
    evals = {}
    for name, ref in models.items():
        ev = evaluate(params.evaluation.model_copy(update={"model": ref}))
        results.append(ev)
        evals[name] = ev.ref
    picked = flows()["chat-model"](ChatModelParams(evaluations=evals, models=models, select_metric=params.select_metric,
                                                   select_from=params.select_from))
    results.append(picked)
    tables = picked.stats["tables"]
    rows, (choice,) = tables["comparison"], tables["choice"]
    run_logger("zhinao.align").info(
        "alignment: every model side by side\n%s\nchosen chat model: %s (%s %.4f); plot: %s",
        text_table([k for k in rows[0] if " (" in k], rows), choice["chosen"], choice["metric"], choice["score"],
        tables["plots"][0]["path"])
    if FlowRunContext.get() is not None:
        create_table_artifact(key="align-comparison", table=[{k.split(" (", 1)[0]: v for k, v in r.items()}
                                                             for r in rows],
                              description=f"Every aligned model side by side; chosen: {choice['chosen']} "
                                          f"({choice['metric']} {choice['score']:.4f})")
    return results
