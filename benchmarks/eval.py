"""Evaluation speed: items/s of our multiple-choice and perplexity paths against lm-evaluation-
harness's HF backend (`HFLM.loglikelihood` / `loglikelihood_rolling`, the baseline) on the same
model, items and machine, in the same run; and how often both pick the same choice.

    python benchmarks/eval.py --subjects 4 --items 25 --shots 5 --docs 48
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
    a = ap.parse_args()

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from tasks.eval.defaults import held_out_articles
    from tasks.eval.loglik import LoglikModel
    from tasks.eval.mc_data import read_benchmark
    from tasks.eval.multiple_choice import MCSetup, requests
    from tasks.generate.models import resolve_generator_model
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

    mine, t_ours = timed(lambda: [s.logprob for pairs in per_subject
                                  for s in ours.loglikelihood(pairs, batch_size=a.batch_size)])
    theirs, t_ref = timed(lambda: [x[0] for pairs in per_subject for x in ref.loglikelihood(
        [Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)], disable_tqdm=True)])
    same = sum(max(range(4), key=lambda j: mine[k + j]) == max(range(4), key=lambda j: theirs[k + j])
               for k in range(0, len(mine), 4))
    ppl_ours, tp_ours = timed(lambda: ours.rolling_logprobs([ours.encode(d) for d in docs], batch_size=a.batch_size))
    ppl_ref, tp_ref = timed(lambda: ref.loglikelihood_rolling(
        [Instance("loglikelihood_rolling", {}, (d,), i) for i, d in enumerate(docs)], disable_tqdm=True))
    worst = max(abs(sum(x) - y) for x, y in zip(ppl_ours, ppl_ref))

    print(f"model {Path(path).name}; {a.subjects} subjects x {a.items} items, {a.shots}-shot; {len(docs)} documents "
          f"(<= 2000 chars); batch {a.batch_size}; {os.cpu_count()} CPUs; same run, best of {a.repeat}")
    print(f"{'path':<66}{'items/s':>10}{'vs lm-eval':>12}")
    for what, n, t, base in [
            ("multiple choice: lm-eval HFLM.loglikelihood (baseline)", n_items, t_ref, t_ref),
            ("multiple choice: ours (shared-prefix KV cache, head where scored)", n_items, t_ours, t_ref),
            ("perplexity: lm-eval HFLM.loglikelihood_rolling (baseline)", len(docs), tp_ref, tp_ref),
            ("perplexity: ours (windows sorted by length, head where scored)", len(docs), tp_ours, tp_ref)]:
        print(f"{what:<66}{n / t:>10.2f}{base / t:>11.2f}x")
    print(f"same choice on {same} of {n_items} items; largest document log-likelihood difference {worst:.2e}")


if __name__ == "__main__":
    main()
