"""tokenizer: a byte-level BPE trained on the stage-1 mixture (a model version), with its compression
(bytes and characters per token) on held-out Chinese and English text against other tokenizers."""
import json
import pyarrow.parquet as pq
import tempfile
from pathlib import Path

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.models import resolve_generator_model
from zhinao.tasks.params import StageParams
from zhinao.tasks.plots import to_reports
from zhinao.tasks.runtime.sampling import taken
from zhinao.tasks.semantic.encoder import resolve_model
from zhinao.tasks.store import file_fingerprint
from zhinao.tasks.tokenizer.bpe import save_tokenizer, train_bpe
from zhinao.tasks.tokenizer.compression import compression, load_any, plot_compression


class TokenizerParams(StageParams):
    vocab_size: int = Field(32_000, gt=300, description="Target vocabulary (360Zhinao: 158,464); a small corpus "
                            "stops earlier, when no pair is frequent enough.")
    min_frequency: int = Field(2, ge=1)
    held_out: float = Field(0.1, gt=0, lt=1, description="Share of documents (by id hash) kept out of training "
                                                         "for the compression report.")
    compare_with: list[str] = Field(default_factory=lambda: ["smollm2-135m-instruct", "all-MiniLM-L6-v2"],
                                    description="Tokenizers to compare: the offline SmolLM2 or MiniLM, or folders "
                                                "/ tokenizer.json files.")
    seed: int = 0


def _tokenizer_path(name: str, store) -> Path:
    if name == "all-MiniLM-L6-v2":
        return resolve_model(name)
    if Path(name).expanduser().exists():
        return Path(name).expanduser()
    return resolve_generator_model(name, store)


def plan(p: TokenizerParams, parents, store) -> Plan:
    compare = {name: _tokenizer_path(name, store) for name in p.compare_with}
    sources = []
    for name, path in compare.items():
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.exists():
            raise FileNotFoundError(f"tokenizer {name!r}: no tokenizer.json at {path}")
        sources.append({"uri": str(file), "name": f"compare/{name}", "fingerprint": file_fingerprint(str(file))})
    return Plan(splits=[{"root": store.root, "paths": store.shard_paths(parents[0]),
                         "compare": {n: str(s["uri"]) for n, s in zip(compare, sources)}}], sources=sources)


def train_split(split: dict, params, sink, stats) -> None:
    root, seen, train, test = split["root"], set(), [], {}
    for path in split["paths"]:
        with root.fs.open_input_file(path) as fh:
            t = pq.read_table(fh, columns=["id", "text", "lang"])
        for doc_id, text, lang in zip(t["id"].to_pylist(), t["text"].to_pylist(), t["lang"].to_pylist()):
            if doc_id in seen or not text:       # the mixture repeats documents across epochs
                continue
            seen.add(doc_id)
            if taken(doc_id, params.seed, "tokenizer/held-out", params.held_out):
                test.setdefault(lang or "und", []).append(text)
            else:
                train.append(text)
    if not train:
        raise ValueError("no training text for the tokenizer (the input has no documents outside the held-out share)")
    tok = train_bpe(train, params.vocab_size, params.min_frequency)
    rows = []
    for name, tk in [("ours", tok)] + [(n, load_any(f)) for n, f in split["compare"].items()]:
        for lang, texts in sorted(test.items()):
            rows.append({"tokenizer": name, "lang": lang, "vocab": tk.get_vocab_size(), **compression(tk, texts)})
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_tokenizer(tok, Path(tmp) / "tokenizer")
        (folder / "compression.json").write_text(json.dumps(rows, indent=2))
        if rows:
            png = plot_compression(rows, folder / "compression.png")
            stats.table("plots", [to_reports(png, f"tokenizer-{split['version']}-compression.png",
                                             "compression by language vs other tokenizers")])
        sink.write_files(folder)
    stats.count("train_docs", len(train))
    stats.count("held_out_docs", sum(len(v) for v in test.values()))
    stats.count("vocab_size", tok.get_vocab_size())
    stats.table("compression", rows)


def run(ctx):
    return ctx.final(train_split, [s | {"version": ctx.version} for s in ctx.plan.splits], desc="train BPE")


TOKENIZER = Stage(
    name="tokenizer", tags=("model",), pipeline="model", params=TokenizerParams, plan=plan, process=train_split, schema=None, run=run, kind="model",
    code=("zhinao.tasks.tokenizer",), inputs=("mix-stage1",),
    description="Byte-level BPE (digits split, chat special tokens) trained on the stage-1 mixture; compression "
                "vs other tokenizers on held-out Chinese and English.")
