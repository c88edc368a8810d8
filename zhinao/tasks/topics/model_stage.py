"""topic-model: the fastText topic classifier trained on the annotate version, committed as a model
version (lineage: annotations -> classifier -> every classified document), with its held-out
accuracy / macro-F1 and a confusion plot as artifacts."""
import pyarrow.parquet as pq
import tempfile
from pathlib import Path

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import StageParams
from zhinao.tasks.plots import to_reports
from zhinao.tasks.topics.classifier import TrainConfig, train_and_evaluate
from zhinao.tasks.topics.taxonomy import TAXONOMY_FILE


class TopicModelParams(StageParams):
    # many passes at a high rate: annotation sets are small (thousands of documents, not billions)
    epoch: int = Field(50, gt=0)
    lr: float = Field(1.0, gt=0)
    dim: int = Field(64, gt=0, description="Embedding size of the classifier.")
    word_ngrams: int = Field(2, gt=0, description="Word n-grams (Chinese is split in characters, so 2 = bigrams).")
    min_count: int = Field(1, gt=0)
    bucket: int = Field(200_000, gt=0, description="Hash buckets for n-grams (model size: bucket x dim).")
    quantize: bool = Field(True, description="Save a quantized .ftz (a few MB instead of bucket x dim floats).")
    quantize_cutoff: int = Field(20_000, gt=0, description="Rows (words and n-gram buckets, largest norms first) "
                                 "the quantized model keeps; quantizing time grows with it.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Annotations held out (by id hash) for evaluation.")
    seed: int = 0


def plan(p: TopicModelParams, parents, store) -> Plan:
    (annotations,) = parents
    if annotations.rows == 0:
        raise ValueError(f"{annotations.ref} has no annotated documents: the topic classifier needs some to "
                         "train on (annotate a non-empty dedup-semantic version)")
    paths = store.shard_paths(annotations)
    taxonomy = [s for s in annotations.sources if s.get("name") == "taxonomy"]
    return Plan(splits=[{"root": store.root, "paths": paths, "taxonomy_file": annotations.params.get("taxonomy")}],
                sources=taxonomy)


def train_split(split: dict, params, sink, stats) -> None:
    root = split["root"]
    rows = []
    for path in split["paths"]:
        with root.fs.open_input_file(path) as fh:
            rows += pq.read_table(fh, columns=["id", "lang", "text", "topic"]).to_pylist()
    cfg = TrainConfig(epoch=params.epoch, lr=params.lr, dim=params.dim, word_ngrams=params.word_ngrams,
                      min_count=params.min_count, bucket=params.bucket, seed=params.seed, quantize=params.quantize,
                      quantize_cutoff=params.quantize_cutoff)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        metrics = train_and_evaluate(rows, cfg, params.test_fraction, folder, Path(split.get("taxonomy_file")
                                                                                  or TAXONOMY_FILE))
        if (folder / "confusion.png").exists():
            stats.table("plots", [to_reports(folder / "confusion.png", f"topic-model-{split['version']}-confusion.png",
                                             "confusion on held-out annotations")])
        sink.write_files(folder)
    stats.count("rows_in", len(rows))
    stats.count("train_docs", metrics["train"])
    stats.count("held_out_docs", metrics["held_out"])
    stats.table("quality", [{"lang": "all", "n": metrics["held_out"], "accuracy": metrics["accuracy"],
                             "macro_f1": metrics["macro_f1"]}]
                + [{"lang": lang, **m} for lang, m in metrics["by_lang"].items()])
    stats.table("per_class", metrics["per_class"])


def run(ctx):
    splits = [s | {"version": ctx.version} for s in ctx.plan.splits]
    return ctx.final(train_split, splits, desc="train fastText")


TOPIC_MODEL = Stage(
    name="topic-model", tags=("data", "topics"), pipeline="data", params=TopicModelParams, plan=plan, process=train_split, schema=None, run=run,
    kind="model", code=("zhinao.tasks.topics.classifier", "zhinao.tasks.topics.features", "zhinao.tasks.topics.metrics"),
    inputs=("annotate",),
    description="fastText topic classifier distilled from the annotations; a model version with held-out "
                "accuracy, macro-F1 and a confusion plot.")
