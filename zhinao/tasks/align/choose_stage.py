"""chat-model: the chat model chosen among evaluated candidates by a stated metric (360Zhinao2 picks
its released model by evaluation), committed as a model version holding the chosen model's files.
Its parents are the candidates' evaluations and the chosen model, so its lineage runs back through
the alignment routes to the crawl; the same candidates and metric again are a cache hit."""
from pathlib import Path

from pydantic import Field, model_validator

from zhinao.tasks.align.choose import choose, compare
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.eval.compare import plot
from zhinao.tasks.eval.run import HEADLINE
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.plots import to_reports
from zhinao.tasks.pretrain.training import work_folder


class ChatModelParams(StageParams):
    # in the version id as what they name: the evaluation and model versions are the parents
    evaluations: dict[str, str] = Field(default_factory=dict, json_schema_extra=NOT_IN_KEY, description=(
        "Candidate name -> its evaluation version (DATASET@VERSION); every one is compared."))
    models: dict[str, str] = Field(default_factory=dict, json_schema_extra=NOT_IN_KEY, description=(
        "Candidate name -> the model version evaluated; the chosen one's files become the chat model."))
    select_metric: str = Field("ifeval", description=(
        "The evaluated task whose headline score picks the chat model (perplexity: bits per byte, lower is "
        "better; mc, gsm8k, ifeval, niah: higher)."))
    select_from: list[str] = Field(["v1", "chat"], description="The candidates that may be chosen (by name).")
    use_ray: bool = Field(False, json_schema_extra=NOT_IN_KEY, description="Copying one folder needs no Ray.")

    @model_validator(mode="after")
    def _known(self) -> "ChatModelParams":
        if self.select_metric not in HEADLINE:
            raise ValueError(f"select_metric {self.select_metric!r}: one of the evaluated tasks {sorted(HEADLINE)}")
        unevaluated = sorted(set(self.models) - set(self.evaluations))
        if unevaluated:
            raise ValueError(f"models {unevaluated} have no evaluation (evaluated: {sorted(self.evaluations)})")
        unknown = [n for n in self.select_from if self.models and n not in self.models]
        if unknown:
            raise ValueError(f"select_from {unknown} names no candidate model ({sorted(self.models)})")
        return self


def plan(p: ChatModelParams, parents, store) -> Plan:
    if not p.evaluations:
        raise ValueError("chat-model: name the candidates' evaluations (-p evaluations='{\"v1\": \"evaluate@...\"}') "
                         "and their models (-p models=...)")
    evals = {name: store.resolve(ref).ref for name, ref in p.evaluations.items()}
    labels, rows = compare(store, evals)
    best, score = choose(labels, rows, p.select_metric, p.select_from)
    chosen = best.split(" (", 1)[0]
    model = store.resolve(p.models[chosen])
    split = {"model_path": str(store.model_path(model)), "chosen": chosen, "score": score, "model_ref": model.ref,
             "labels": labels, "rows": rows}
    return Plan(splits=[split], parents=[model] + [store.resolve(ref) for ref in evals.values()])


def copy_chosen(split: dict, params: ChatModelParams, sink, stats) -> None:
    """The chosen model's files, the comparison and its plot."""
    sink.write_files(Path(split["model_path"]))
    stats.table("comparison", split["rows"])
    stats.table("choice", [{"chosen": split["chosen"], "model": split["model_ref"], "metric": params.select_metric,
                            "score": split["score"]}])
    png = plot(split["labels"], split["rows"], Path(split["work"]) / "comparison.png")
    stats.table("plots", [to_reports(png, f"chat-model-{split['version']}-comparison.png",
                                     "every candidate side by side")])


def run(ctx):
    work = work_folder(ctx)       # a local folder for the plot, also when the store is remote
    return ctx.final(copy_chosen, [s | {"work": str(work), "version": ctx.version} for s in ctx.plan.splits],
                     desc="copy the chosen model")


CHAT_MODEL = Stage(
    name="chat-model", tags=("post-training", "alignment", "model"), params=ChatModelParams, plan=plan,
    process=copy_chosen, schema=None, run=run, kind="model", code=("zhinao.tasks.align.choose",),
    description="The chat model: the best of the evaluated candidates by a stated metric (ties go to the first "
                "listed), its files committed with the comparison; lineage through every candidate's evaluation.")
