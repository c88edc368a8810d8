"""The self-instruct ROUGE-L filter: candidates/s against a growing pool, ours (bit-parallel LCS in
the chat text units, zhinao/tasks/evolve/rouge.py) vs rouge_score, on the same synthetic English
instructions in the same run. Baselines: RougeScorer.score per pair (self-instruct's loop) and
rouge_score's table LCS on tokens computed once (Stanford Alpaca's loop, `_score_lcs`; the ratio
column divides by it). All must keep the same candidates: on ASCII text our units are rouge_score's
tokens.

    python benchmarks/rouge.py --pool 500 --candidates 200
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VERBS = ["Write", "Explain", "Describe", "List", "Summarize", "Compare", "Plan", "Suggest", "Translate", "Rewrite"]
WORDS = ("the a an of to in for on with about how why what which simple short detailed clear friendly formal "
         "story poem email letter essay plan list guide recipe budget trip city river planet garden music history "
         "science market bridge journey memory winter coffee signal forest window student teacher family friend "
         "computer program function algorithm data table report").split()


def instructions(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(VERBS)} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24))) + "."
            for _ in range(n)]


def ours(pool: list[str], candidates: list[str], threshold: float) -> list[bool]:
    from zhinao.tasks.evolve.rouge import RougePool

    rp = RougePool()
    for i, text in enumerate(pool):
        rp.add(f"p{i}", text)
    kept = []
    for i, text in enumerate(candidates):
        ok = rp.most_similar(text)[0] < threshold
        kept.append(ok)
        if ok:
            rp.add(f"c{i}", text)
    return kept


def baseline(pool: list[str], candidates: list[str], threshold: float) -> list[bool]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    seen, kept = list(pool), []
    for text in candidates:
        ok = max((scorer.score(p, text)["rougeL"].fmeasure for p in seen), default=0.0) < threshold
        kept.append(ok)
        if ok:
            seen.append(text)
    return kept


def baseline_pretokenized(pool: list[str], candidates: list[str], threshold: float) -> list[bool]:
    from rouge_score import rouge_scorer

    tokenize = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)._tokenizer.tokenize
    seen, kept = [tokenize(p) for p in pool], []
    for text in candidates:
        tokens = tokenize(text)
        ok = max((rouge_scorer._score_lcs(p, tokens).fmeasure for p in seen), default=0.0) < threshold
        kept.append(ok)
        if ok:
            seen.append(tokens)
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=500)
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--threshold", type=float, default=0.7)
    args = ap.parse_args()
    pool = instructions(args.pool, 0)
    # half the candidates are pool items with a word changed: the filter has work to do both ways
    rng = random.Random(1)
    candidates = [(p.replace(rng.choice(WORDS), rng.choice(WORDS), 1) if k % 2 else c)
                  for k, (p, c) in enumerate(zip(rng.sample(pool, args.candidates), instructions(args.candidates, 2)))]
    rows = []
    for name, fn in (("rouge_score RougeScorer.score", baseline),
                     ("rouge_score _score_lcs, tokens once", baseline_pretokenized), ("ours: bit-parallel LCS", ours)):
        try:
            start = time.perf_counter()
            kept = fn(pool, candidates, args.threshold)
            seconds = time.perf_counter() - start
        except ImportError as e:
            print(f"{name}: skipped ({e})")
            continue
        rows.append((name, seconds, kept))
    print(f"pool {args.pool}, candidates {args.candidates}, threshold {args.threshold}")
    base = next((seconds for name, seconds, _ in rows if "tokens once" in name), None)
    for name, seconds, kept in rows:
        ratio = f"{base / seconds:6.1f}x" if base else ""
        print(f"{name:38s} {len(candidates) / seconds:9.1f} candidates/s  kept {sum(kept):4d}  {ratio}")
    print("same decisions:", len({tuple(kept) for _, _, kept in rows}) == 1)


if __name__ == "__main__":
    main()
