"""Reward-model validation accuracy on the embedded default preference set: the preference-data
stage with its defaults, then the reward-model stage with its defaults on a tiny model of our shape
(the stage's held-out pairs, by id hash, never trained on), against baselines on the same held-out
pairs in the same run:
- chance (0.5);
- length: the longer response preferred (ties count as wrong);
- bag of words: a logistic regression on the difference of the two sides' TF-IDF word and character
  n-grams, fitted on the stage's training pairs (how far surface features go).

    python benchmarks/reward_model.py                         # fresh tiny model (our BPE, ChatML)
    python benchmarks/reward_model.py --model /path/to/hf-llama-folder --math 200 --ifeval 800
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def fresh_model(root: Path) -> Path:
    """A tiny Llama folder (untrained) with the tokenizer stage's BPE and ChatML template."""
    import torch

    from zhinao.model.config import preset
    from zhinao.model.hf import export_hf
    from zhinao.model.transformer import Transformer
    from zhinao.tasks.corpus.labelled import labelled_articles
    from zhinao.tasks.tokenizer.bpe import save_tokenizer, train_bpe

    tok = save_tokenizer(train_bpe([r["text"] for r in labelled_articles(3)], 1500), root / "tokenizer")
    torch.manual_seed(0)
    return export_hf(Transformer(preset("tiny", vocab_size=1536)), root / "model", tok)


def accuracy(rows: list[dict], right) -> dict[str, float]:
    """Accuracy overall and per category of `right(row) -> bool`."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        groups[r["category"]].append(bool(right(r)))
        groups["(all)"].append(bool(right(r)))
    return {g: sum(v) / len(v) for g, v in sorted(groups.items())}


def bag_of_words(train: list[dict], valid: list[dict]):
    """P(first side preferred) from TF-IDF differences, fitted on `train` (both orders, so the model
    cannot lean on position); returns right(row) for the held-out rows."""
    import numpy as np
    from scipy.sparse import hstack, vstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=1, sublinear_tf=True)
    texts = [r["chosen"] for r in train] + [r["rejected"] for r in train]
    words.fit(texts)
    chars.fit(texts)

    def feats(xs):
        return hstack([words.transform(xs), chars.transform(xs)]).tocsr()

    c, r = feats([x["chosen"] for x in train]), feats([x["rejected"] for x in train])
    model = LogisticRegression(max_iter=2000, C=10.0).fit(vstack([c - r, r - c]),
                                                          np.r_[np.ones(len(train)), np.zeros(len(train))])
    vc, vr = feats([x["chosen"] for x in valid]), feats([x["rejected"] for x in valid])
    right = dict(zip((x["id"] for x in valid), model.decision_function(vc - vr) > 0))
    return lambda row: right[row["id"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="base HF causal-LM folder (default: a fresh tiny model)")
    ap.add_argument("--math", type=int, help="math_pairs (default: the stage's)")
    ap.add_argument("--ifeval", type=int, help="ifeval_pairs (default: the stage's)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rm-bench-"))
    os.environ["ZHINAO_HOME"] = str(home)

    from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
    from zhinao.tasks.reward.model_stage import REWARD_MODEL, RewardModelParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.reward.pair_data import VALID_SALT
    from zhinao.tasks.runtime.sampling import taken
    from zhinao.tasks.home import open_store

    store = open_store()
    folder = Path(args.model) if args.model else fresh_model(home / "base")
    store.import_model("pretrain-stage2", folder, stage="benchmark")
    counts = {k: v for k, v in (("math_pairs", args.math), ("ifeval_pairs", args.ifeval)) if v is not None}
    pairs = execute_stage(PREFERENCE_DATA, PreferenceDataParams(use_ray=False, **counts))
    params = RewardModelParams()
    rm = execute_stage(REWARD_MODEL, params)
    rows = {r["id"]: r for r in store.open_arrow(pairs.ref).to_pylist()}
    held = [json.loads(x) for x in (store.model_path(rm.ref) / "validation.jsonl").read_text().splitlines()]
    valid = [rows[h["id"]] | {"margin": h["margin"]} for h in held]
    held_ids = {h["id"] for h in held}
    dropped = sum(rm.stats["dropped"].values()) if rm.stats.get("dropped") else 0
    train = [r for i, r in rows.items() if i not in held_ids and not taken(i, params.seed, VALID_SALT, params.valid_fraction)]

    results = {
        "reward model (ours, Bradley-Terry)": accuracy(valid, lambda r: r["margin"] > 0),
        "baseline: chance": {g: 0.5 for g in accuracy(valid, lambda r: True)},
        "baseline: longer response preferred": accuracy(valid, lambda r: len(r["chosen"]) > len(r["rejected"])),
        "baseline: bag of words (TF-IDF logistic regression)": accuracy(valid, bag_of_words(train, valid)),
    }
    groups = list(results["reward model (ours, Bradley-Terry)"])
    sizes = accuracy(valid, lambda r: True)
    n = {g: sum(1 for r in valid if g in ("(all)", r["category"])) for g in sizes}
    print(f"{pairs.rows} pairs from {pairs.ref}; {len(train)} training, {len(valid)} held out, {dropped} dropped; "
          f"base model {folder}; reward model {rm.ref}")
    print(f"\n{'held-out accuracy':52}" + "".join(f"{g + f' ({n[g]})':>16}" for g in groups))
    for name, acc in results.items():
        print(f"{name:52}" + "".join(f"{acc[g]:16.3f}" for g in groups))
    print(json.dumps({"accuracy": results, "held_out": n}))


if __name__ == "__main__":
    main()
