"""One ablation: validation documents (a given version, or a held-out share of the first dataset),
every dataset's documents minus those overlapping validation, each tokenized by one tokenizer,
then the same small model trained on each with the same seeds and evaluated on the same windows."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from zhinao.model.train_spec import TrainSpec

from ..dedup.exact import text_hash
from ..plots import to_reports
from ..pretrain.run import logger, train_run
from ..runtime.sampling import taken
from ..tokens.pack import encode_documents, eos_id, load_tokenizer, write_tokens
from .decontaminate import Decontaminator
from .report import plot, table


def read_docs(root, paths: list[str]) -> list[tuple[str, str]]:
    docs = []
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            t = pq.read_table(fh, columns=["id", "text"])
        docs += [(i, x) for i, x in zip(t["id"].to_pylist(), t["text"].to_pylist()) if x]
    return docs


def held_out(docs: list[tuple[str, str]], seed: int, share: float) -> list[str]:
    """Distinct texts chosen by a hash of the normalized text, so the copies of a page all go to
    validation or all stay out of it (an id hash would scatter copies across both sides)."""
    chosen = {}
    for _, text in docs:
        h = text_hash(text)
        if h not in chosen and taken(h, seed, "ablate/validation", share):
            chosen[h] = text
    return list(chosen.values())


def pack(folder: Path, tok, texts: list[str], eos: int) -> int:
    tokens, starts = encode_documents(tok, texts, eos)
    write_tokens(folder, "tokens-00000", tokens, starts)
    return int(tokens.size)


def run_ablation(split: dict[str, Any], params: Any, sink, stats) -> None:
    log, root, work = logger(), split["root"], Path(split["work"])
    tok = load_tokenizer(split["tokenizer"])
    eos = eos_id(tok, params.eos_token, split["tokenizer"])
    data = {ref: read_docs(root, paths) for ref, paths in split["datasets"].items()}
    first = next(iter(data))
    if split["validation"]:
        valid = [t for _, t in read_docs(root, split["validation"])]
    else:
        valid = held_out(data[first], params.seed, params.held_out)
    if not valid:
        raise ValueError("no validation documents: give `validation` or a larger `held_out`")
    stats.count("valid_docs", len(valid))
    valid_tokens = pack(work / "valid", tok, valid, eos)
    log.info("ablation: %d validation documents (%d tokens)", len(valid), valid_tokens)
    guard = Decontaminator(valid, params.overlap_threshold)

    runs = []
    for k, (ref, docs) in enumerate(data.items()):
        texts = [t for _, t in docs]
        overlap = guard.contaminated(texts)
        train = [t for t, bad in zip(texts, overlap) if not bad]
        tokens = pack(work / f"data-{k}", tok, train, eos)
        log.info("ablation: %s: %d documents (%d overlapping validation removed), %d tokens",
                 ref, len(train), int(overlap.sum()), tokens)
        for seed in params.seeds:
            name = f"run-{k}-seed-{seed}"
            spec = TrainSpec(**split["spec"], seed=seed, data=str(work / f"data-{k}"), valid_data=str(work / "valid"),
                             checkpoints=str(work / name), out=str(work / name / "final"))
            rows, state = train_run(spec, f"ablate {ref} (seed {seed})", params, log)
            runs.append({"dataset": ref, "seed": seed, "docs": len(train), "removed": int(overlap.sum()),
                         "tokens": tokens, "epochs": state["tokens"] / max(tokens, 1), "metrics": rows})

    out = work / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary = table(runs)
    (out / "ablation.json").write_text(json.dumps({"table": summary, "runs": runs}, indent=2))
    png = plot(runs, out / "ablation.png", f"ablate@{split['version']}: validation loss ({len(valid)} documents)")
    sink.write_files(out)
    stats.table("ablation", summary)
    stats.table("plots", [to_reports(png, f"ablate-{split['version']}.png", "validation loss per data version")])
    for row in summary:
        log.info("ablation: %-40s final validation loss %.4f (%+.4f vs %s)", row["dataset"],
                 row["final_valid_loss"], row["vs_first"], summary[0]["dataset"])
