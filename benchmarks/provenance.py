"""Per-document provenance: what the drop records and the token shards' document indexes cost, and
how long one `zhinao trace` takes, on a generated crawl of --pages documents.

The document stages ingest ... dedup-minhash run (one process, no Ray), then a tokenizer and one
token version on dedup-minhash's output. Per stage: the seconds spent on its drop record (timed in
the run: compacting, writing and merging the files) against the stage's own seconds, and the
record's bytes against the version's output bytes; for the token version, the document index's
bytes against the token files'. With --ab the same stages also run in a second home with the
records and indexes switched off (the stages as they were before them), in the other order too,
and each stage's seconds are compared: the baseline, measured in the same run.

    python benchmarks/provenance.py --pages 100000 [--ab]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES = ("ingest", "extract", "langid", "quality", "dedup-exact", "dedup-minhash")


@contextlib.contextmanager
def records_off():
    """The sink drops rows without a record, the driver merges nothing, tokenize writes no index."""
    import zhinao.flows.stage
    import zhinao.tasks.tokens.stage
    from zhinao.tasks.runtime.sink import ShardSink

    saved = ShardSink.drop, zhinao.flows.stage.merge_drops, zhinao.tasks.tokens.stage.write_document_index

    def audit_only(self, table, signals=None):
        if table.num_rows and self.audit_folder is not None:
            saved[0](self, table, signals)

    ShardSink.drop = audit_only
    zhinao.flows.stage.merge_drops = lambda root, folder, shards: shards
    zhinao.tasks.tokens.stage.write_document_index = lambda *a, **k: None
    try:
        yield
    finally:
        ShardSink.drop, zhinao.flows.stage.merge_drops, zhinao.tasks.tokens.stage.write_document_index = saved


def run_pipeline(home: Path, crawl: Path) -> dict[str, dict]:
    """Each stage's manifest, computed fresh in `home`."""
    os.environ["ZHINAO_HOME"] = str(home)
    from zhinao.tasks.dedup.exact_stage import DEDUP_EXACT, ExactDedupParams
    from zhinao.tasks.dedup.minhash_stage import DEDUP_MINHASH, MinHashParams
    from zhinao.tasks.extract.stage import EXTRACT, ExtractParams
    from zhinao.tasks.ingest.stage import INGEST, IngestParams
    from zhinao.tasks.langid.stage import LANGID, LangIdParams
    from zhinao.tasks.quality.stage import QUALITY, QualityParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.tokens.stage import TOKENS_STAGE1, TokenizeParams
    from zhinao.tasks.tokenizer.stage import TOKENIZER, TokenizerParams
    from zhinao.tasks.home import open_store

    out = {}
    for stage, params in ((INGEST, IngestParams(sources=[str(crawl)], use_ray=False)),
                          (EXTRACT, ExtractParams(use_ray=False)), (LANGID, LangIdParams(use_ray=False)),
                          (QUALITY, QualityParams(use_ray=False)), (DEDUP_EXACT, ExactDedupParams(use_ray=False)),
                          (DEDUP_MINHASH, MinHashParams(use_ray=False))):
        r = execute_stage(stage, params)
        out[stage.name] = open_store().resolve(r.ref)
        print(f"  {r.ref}: {r.rows:,} rows, {out[stage.name].timings['seconds']:.1f} s", flush=True)
    docs = out["dedup-minhash"].ref
    tok = execute_stage(TOKENIZER, TokenizerParams(use_ray=False, vocab_size=2000, compare_with=[]),
                        inputs={"mix-stage1": docs})
    r = execute_stage(TOKENS_STAGE1, TokenizeParams(use_ray=False), inputs={"mix-stage1": docs, "tokenizer": tok.ref})
    out["tokens-stage1"] = open_store().resolve(r.ref)
    print(f"  {r.ref}: {r.rows:,} tokens, {out['tokens-stage1'].timings['seconds']:.1f} s", flush=True)
    return out


def share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


def start(doc: str, name: str, ab: bool = False) -> tuple[argparse.Namespace, Path, Path]:
    """What a crawl benchmark starts with: --pages/--files, quiet logs, a work folder and the crawl."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=8)
    if ab:
        ap.add_argument("--ab", action="store_true", help="also run with the records off, both orders")
    args = ap.parse_args()
    os.environ.setdefault("ZHINAO_LOG_LEVEL", "WARNING")
    import logging

    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix=f"zhinao-{name}-"))
    from zhinao.tasks.corpus.generate import generate

    t = time.time()
    crawl = generate(work / "crawl", pages=args.pages, files=args.files, seed=0)
    print(f"crawl: {args.pages:,} pages in {args.files} WARC files ({time.time() - t:.0f} s); work folder {work}")
    return args, work, crawl


def main() -> None:
    args, work, crawl = start(__doc__, "provenance", ab=True)
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    order = ["on", "off", "off", "on"] if args.ab else ["on"]
    for i, mode in enumerate(order):
        print(f"run {i + 1}: records {mode}", flush=True)
        with records_off() if mode == "off" else contextlib.nullcontext():
            runs[mode].append(run_pipeline(work / f"home-{i}", crawl))
    on = runs["on"][0]

    print(f"\nprovenance records on {args.pages:,} pages (one process, this machine):")
    print(f"{'stage':<15}{'rows out':>10}{'stage s':>9}{'record s':>10}{'share':>8}{'output MB':>11}"
          f"{'record KB':>11}{'share':>8}{'dropped':>9}")
    total = {"s": 0.0, "rs": 0.0, "b": 0, "rb": 0}
    for name in STAGES:
        m = on[name]
        rs, rb = m.timings.get("drop_record_seconds", 0.0), sum(s.bytes for s in m.drops)
        total["s"] += m.timings["seconds"]
        total["rs"] += rs
        total["b"] += m.bytes
        total["rb"] += rb
        print(f"{name:<15}{m.rows:>10,}{m.timings['seconds']:>9.1f}{rs:>10.2f}{share(rs, m.timings['seconds']):>8}"
              f"{m.bytes / 1e6:>11.2f}{rb / 1e3:>11.1f}{share(rb, m.bytes):>8}{sum(s.rows for s in m.drops):>9,}")
    print(f"{'all six':<15}{'':>10}{total['s']:>9.1f}{total['rs']:>10.2f}{share(total['rs'], total['s']):>8}"
          f"{total['b'] / 1e6:>11.2f}{total['rb'] / 1e3:>11.1f}{share(total['rb'], total['b']):>8}")
    tokens = on["tokens-stage1"]
    index = sum(s.bytes for s in tokens.shards if s.path.endswith(".docs.parquet"))
    files = sum(s.bytes for s in tokens.shards if not s.path.endswith(".docs.parquet"))
    print(f"token shards: document index {index / 1e3:.1f} KB vs token files {files / 1e6:.2f} MB "
          f"({share(index, files)})")

    from zhinao.tasks.provenance.trace import drop_record, trace
    from zhinao.tasks.home import open_store

    os.environ["ZHINAO_HOME"] = str(work / "home-0")
    store = open_store()
    dup = next(r for r in drop_record(store, on["dedup-minhash"]).to_pylist() if r["drop_reason"] == "near_duplicate")
    for how, doc in (("id", dup["id"]), ("url", dup["url"])):
        t = time.perf_counter()
        result = trace(store, doc)
        assert result["steps"][-1]["kept_twin"] == dup["dup_of"]
        print(f"zhinao trace by {how} of a near-duplicate: {time.perf_counter() - t:.2f} s "
              f"({len(result['steps'])} stages, kept twin found)")

    if args.ab:
        print("\nstage seconds, records on vs off (best of two runs each, alternating order):")
        print(f"{'stage':<15}{'on s':>8}{'off s':>8}{'on/off':>8}")
        for name in STAGES + ("tokens-stage1",):
            a = min(r[name].timings["seconds"] for r in runs["on"])
            b = min(r[name].timings["seconds"] for r in runs["off"])
            print(f"{name:<15}{a:>8.1f}{b:>8.1f}{a / b:>8.3f}")
        a = sum(min(r[n].timings["seconds"] for r in runs["on"]) for n in STAGES)
        b = sum(min(r[n].timings["seconds"] for r in runs["off"]) for n in STAGES)
        print(f"{'all six':<15}{a:>8.1f}{b:>8.1f}{a / b:>8.3f}")


if __name__ == "__main__":
    main()
