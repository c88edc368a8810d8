"""Generation throughput: the stage's generator path against the backend library called directly.

Same prompts, same model (the default SmolLM2-135M-Instruct), greedy decoding, same run:
- transformers: `model.generate` on left-padded chat-templated batches (baseline) vs our
  TransformersGenerator, and vs the full stage process (GenerateRows: batching, output checks,
  batches kept for retries); tokens/s at several batch sizes.
- vLLM (needs the vLLM environment, deployments/local/setup-vllm.sh): `vllm.LLM.chat` offline in
  that environment (baseline) vs our OpenAIGenerator against the `vllm serve` the stages start.

    python benchmarks/generate.py [--prompts 16] [--max-tokens 128] [--batch-sizes 1,4,8,16] [--no-vllm]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

TOPICS = ["bread baking", "bike lanes", "train timetables", "python lists", "solar panels", "tea history",
          "rainfall", "chess openings", "bees", "bridges", "volcanoes", "savings accounts", "marathons",
          "printing presses", "coral reefs", "street maps"]


def prompts(n: int) -> list[str]:
    return [f"Write a short paragraph explaining {TOPICS[i % len(TOPICS)]} to a ten-year-old." for i in range(n)]


def hf_direct(model_path: str, texts: list[str], max_tokens: int, batch: int) -> tuple[int, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    chats = [tok.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True, tokenize=False)
             for t in texts]
    tokens, start = 0, time.perf_counter()
    for i in range(0, len(chats), batch):
        enc = tok(chats[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        tokens += int((new != tok.pad_token_id).sum())
    return tokens, time.perf_counter() - start


def ours_generator(model_path: str, texts: list[str], max_tokens: int, batch: int) -> tuple[int, float]:
    from zhinao.tasks.generate.api import Request
    from zhinao.tasks.generate.hf import TransformersGenerator

    gen = TransformersGenerator(model_path, device="cpu", batch_size=batch)
    reqs = [Request.chat(t, max_tokens=max_tokens, temperature=0.0) for t in texts]
    start = time.perf_counter()
    out = gen.generate(reqs)
    return sum(c.completion_tokens for c in out), time.perf_counter() - start


def _build(row, p):
    from zhinao.tasks.generate.api import Request

    return [Request.chat(row["prompt"], max_tokens=p.max_tokens, temperature=0.0)]


def _parse(row, completions, p):
    from zhinao.tasks.generate.checks import output_problem

    c = completions[0]
    return [{"id": row["id"], "text": c.text, "drop_reason": output_problem(c, "en", allow_truncated=True)}]


def ours_stage(model_path: str, texts: list[str], max_tokens: int, batch: int) -> tuple[int, float]:
    import pyarrow as pa

    from zhinao.tasks.generate.engine import GenerateRows, GenJob
    from zhinao.tasks.generate.service import GenSpec, get_generator
    from zhinao.tasks.runtime.sink import ShardSink
    from zhinao.tasks.stats import StageStats
    from zhinao.tasks.store.fs import open_root

    spec = GenSpec("transformers", model_path, "bench", batch_size=batch, device="cpu")
    get_generator(spec)                          # loaded before the clock, as the baseline's load is
    root = open_root(tempfile.mkdtemp(prefix="zhinao-genbench-"))
    split = {"rows": [{"id": str(i), "prompt": t} for i, t in enumerate(texts)], "root": root, "spec": spec,
             "schema": pa.schema([("id", pa.string()), ("text", pa.string())]), "resume": "resume"}
    stats = StageStats()
    start = time.perf_counter()
    GenerateRows(GenJob("bench", _build, _parse))(split, SimpleNamespace(batch_size=batch, max_tokens=max_tokens),
                                                  ShardSink(root, "out", 0), stats)
    return stats.counters["completion_tokens"], time.perf_counter() - start


VLLM_DIRECT = """
import json, sys, time
from vllm import LLM, SamplingParams
args = json.loads(sys.argv[1])
llm = LLM(model=args["model"], max_model_len=2048, enforce_eager=True, seed=0)
sp = SamplingParams(max_tokens=args["max_tokens"], temperature=0.0)
chats = [[{"role": "user", "content": t}] for t in args["texts"]]
llm.chat(chats[:1], sp, use_tqdm=False)            # warm-up, like the server's first request
start = time.perf_counter()
out = llm.chat(chats, sp, use_tqdm=False)
print("RESULT", json.dumps([sum(len(o.outputs[0].token_ids) for o in out), time.perf_counter() - start]))
"""


def vllm_direct(python: Path, model_path: str, texts: list[str], max_tokens: int) -> tuple[int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")} | {
        "VLLM_CPU_KVCACHE_SPACE": "2", "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([str(python), "-c", VLLM_DIRECT, json.dumps({"model": model_path, "texts": texts,
                                                                    "max_tokens": max_tokens})],
                       capture_output=True, text=True, env=env, timeout=1800)
    line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError("vLLM offline run failed:\n" + p.stderr[-3000:])
    tokens, seconds = json.loads(line[7:])
    return tokens, seconds


def vllm_ours(model_path: str, texts: list[str], max_tokens: int, concurrency: int) -> tuple[int, float]:
    from zhinao.tasks.generate.api import Request
    from zhinao.tasks.generate.openai_client import OpenAIGenerator
    from zhinao.tasks.generate.vllm_server import ServerConfig, VLLMServer

    reqs = [Request.chat(t, max_tokens=max_tokens, temperature=0.0) for t in texts]
    with VLLMServer(ServerConfig(model_path=model_path, served_name="bench", max_model_len=2048,
                                 enforce_eager=True)) as url:
        gen = OpenAIGenerator(url, "bench", concurrency=concurrency, send_seeds=False)
        gen.generate(reqs[:1])                      # warm-up
        start = time.perf_counter()
        out = gen.generate(reqs)
        return sum(c.completion_tokens for c in out), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-sizes", default="1,4,8,16")
    ap.add_argument("--no-vllm", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("ZHINAO_HOME", tempfile.mkdtemp(prefix="zhinao-genbench-home-"))
    from zhinao.tasks.generate.models import DEFAULT_GENERATOR, resolve_generator_model
    from zhinao.tasks.generate.vllm_server import vllm_python

    model = str(resolve_generator_model(DEFAULT_GENERATOR))
    texts = prompts(args.prompts)
    print(f"{args.prompts} prompts, {args.max_tokens} new tokens each, greedy, SmolLM2-135M-Instruct, "
          f"{os.cpu_count()} CPUs")
    print(f"{'backend':12} {'path':38} {'batch':>5} {'tokens':>7} {'seconds':>8} {'tok/s':>7} {'vs direct':>9}")
    for b in (int(x) for x in args.batch_sizes.split(",")):
        base = None
        for name, fn in (("transformers.generate (direct)", hf_direct), ("ours: TransformersGenerator", ours_generator),
                         ("ours: stage process (GenerateRows)", ours_stage)):
            tokens, seconds = fn(model, texts, args.max_tokens, b)
            rate = tokens / seconds
            base = base or rate
            print(f"{'transformers':12} {name:38} {b:5d} {tokens:7d} {seconds:8.1f} {rate:7.1f} {rate / base:8.2f}x")
    python = vllm_python()
    if args.no_vllm or python is None:
        print("vLLM: skipped" + ("" if args.no_vllm else " (no vLLM environment: bash deployments/local/setup-vllm.sh)"))
        return
    tokens, seconds = vllm_direct(python, model, texts, args.max_tokens)
    base = tokens / seconds
    print(f"{'vllm':12} {'vllm.LLM.chat offline (direct)':38} {len(texts):5d} {tokens:7d} {seconds:8.1f} {base:7.1f} {1:8.2f}x")
    tokens, seconds = vllm_ours(model, texts, args.max_tokens, concurrency=len(texts))
    rate = tokens / seconds
    print(f"{'vllm':12} {'ours: OpenAIGenerator -> vllm serve':38} {len(texts):5d} {tokens:7d} {seconds:8.1f} "
          f"{rate:7.1f} {rate / base:8.2f}x")


if __name__ == "__main__":
    sys.exit(main())
