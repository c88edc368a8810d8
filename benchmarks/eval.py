"""Evaluation speed: items/s of our multiple-choice and perplexity paths against lm-evaluation-
harness's HF backend (`HFLM.loglikelihood` / `loglikelihood_rolling`, the baseline) on the same
model, items and machine, in the same run; and how often both pick the same choice. With
--vllm, the same paths on the prompt logprobs of a `vllm serve` of the model (the vLLM environment,
deployments/local/setup-vllm.sh), started (not timed) in the same run.

    python benchmarks/eval.py --subjects 4 --items 25 --shots 5 --docs 48
    python benchmarks/eval.py --subjects 2 --items 8 --shots 5 --docs 12 --vllm
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", help="the default generator or an HF folder")
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--items", type=int, default=25, help="test items per subject")
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--docs", type=int, default=48, help="held-out documents for perplexity")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="time each path this many times and keep the "
                    "fastest: on a machine shared with other jobs the best of a few is the steadier figure")
    ap.add_argument("--vllm", action="store_true", help="also time the paths on a local vLLM server")
    a = ap.parse_args()

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from zhinao.tasks.eval.defaults import held_out_articles
    from zhinao.tasks.eval.loglik import LoglikModel
    from zhinao.tasks.eval.mc_data import read_benchmark
    from zhinao.tasks.eval.multiple_choice import MCSetup, requests
    from zhinao.tasks.generate.models import resolve_generator_model
    from tests.eval_files import write_cmmlu

    path = str(resolve_generator_model(a.model))
    root = write_cmmlu(Path(tempfile.mkdtemp()) / "mc", {f"subject_{k}": (a.items, a.shots) for k in range(a.subjects)})
    test, dev = read_benchmark(root), read_benchmark(root, "dev")
    setup = MCSetup(shots=a.shots)
    per_subject = [requests(test[s], dev[s], setup) for s in test]
    n_items = sum(len(v) for v in test.values())
    docs = [d["text"][:2000] for d in held_out_articles(max(1, a.docs // 24))][:a.docs]

    ours = LoglikModel(path)
    ref = HFLM(pretrained=path, dtype="float32", batch_size=a.batch_size, device="cpu")

    def timed(fn):
        best = float("inf")
        for _ in range(a.repeat):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        return out, best

    def mc(model):
        return [s.logprob for pairs in per_subject for s in model.loglikelihood(pairs, batch_size=a.batch_size)]

    def rolling(model):
        return [sum(x) for x in model.rolling_logprobs([model.encode(d) for d in docs], batch_size=a.batch_size)]

    def choices(lps):
        return [max(range(4), key=lambda j: lps[k + j]) for k in range(0, len(lps), 4)]

    mine, t_ours = timed(lambda: mc(ours))
    theirs, t_ref = timed(lambda: [x[0] for pairs in per_subject for x in ref.loglikelihood(
        [Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)], disable_tqdm=True)])
    ppl_ours, tp_ours = timed(lambda: rolling(ours))
    ppl_ref, tp_ref = timed(lambda: ref.loglikelihood_rolling(
        [Instance("loglikelihood_rolling", {}, (d,), i) for i, d in enumerate(docs)], disable_tqdm=True))
    rows = [("multiple choice: lm-eval HFLM.loglikelihood (baseline)", n_items, t_ref, t_ref),
            ("multiple choice: ours (shared-prefix KV cache, head where scored)", n_items, t_ours, t_ref),
            ("perplexity: lm-eval HFLM.loglikelihood_rolling (baseline)", len(docs), tp_ref, tp_ref),
            ("perplexity: ours (packed windows, head where scored)", len(docs), tp_ours, tp_ref)]
    agree = [("ours", mine, ppl_ours)]
    if a.vllm:
        agree.append(("vLLM", *_on_vllm(path, a, timed, mc, rolling, rows, n_items, len(docs), t_ref, tp_ref)))

    print(f"model {Path(path).name}; {a.subjects} subjects x {a.items} items, {a.shots}-shot; {len(docs)} documents "
          f"(<= 2000 chars); batch {a.batch_size}; {os.cpu_count()} CPUs; same run, best of {a.repeat}")
    print(f"{'path':<66}{'items/s':>10}{'vs lm-eval':>12}")
    for what, n, t, base in rows:
        print(f"{what:<66}{n / t:>10.2f}{base / t:>11.2f}x")
    for who, lps, ppl in agree:
        same = sum(x == y for x, y in zip(choices(lps), choices(theirs)))
        worst = max(abs(x - y) for x, y in zip(ppl, ppl_ref))
        print(f"{who} and lm-eval: the same choice on {same} of {n_items} items; largest document "
              f"log-likelihood difference {worst:.2e}")


def _on_vllm(path, a, timed, mc, rolling, rows, n_items, n_docs, t_ref, tp_ref):
    from types import SimpleNamespace

    from zhinao.tasks.eval.served_loglik import ServedLoglik
    from zhinao.tasks.generate.service import serving

    p = SimpleNamespace(backend="vllm", endpoint=None, api_key=None, batch_size=a.batch_size, device="auto",
                        concurrency=32, max_model_len=4096, tensor_parallel_size=1, gpu_memory_utilization=0.85,
                        seed=0, enforce_eager=True)
    with serving(p, path, Path(path).name) as spec:
        served = ServedLoglik(spec.url, spec.served_name, path, concurrency=spec.concurrency)
        lps, t_mc = timed(lambda: mc(served))
        ppl, t_ppl = timed(lambda: rolling(served))
    rows += [("multiple choice: ours on vLLM prompt logprobs", n_items, t_mc, t_ref),
             ("perplexity: ours on vLLM prompt logprobs", n_docs, t_ppl, tp_ref)]
    return lps, ppl


if __name__ == "__main__":
    main()
