"""Session-wide models for the post-training tests, each built once in a home of its own: the tiny
`pretrain-stage2` model (the default base of reward-model and sft) and the reward model trained on
the default preference set (what rm-filter tests score with)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from zhinao.tasks.store import Store

from zhinao.tasks.home import open_store

# judged items of each kind (what the judge stage keeps), English and Chinese
JUDGED = [("math", "en", "A box holds 6 pens. How many pens are in 5 boxes?", "6 * 5 = 30.\n\nFinal answer: 30"),
          ("code", "en", "Write a function that adds two numbers.", "```python\ndef add(a, b):\n    return a + b\n```"),
          ("instruction", "en", "Plan a one-day trip to Rome for a first-time visitor.",
           "Start at the Colosseum, walk to the Forum, then see the Pantheon and end at Trevi Fountain."),
          ("instruction", "zh", "介绍一下长城的历史。", "长城始建于春秋战国时期，秦朝把各段连接起来，明朝又大规模重修。"),
          ("instruction", "zh", "给出三条提高睡眠质量的建议。", "第一，按时睡觉；第二，睡前少看手机；第三，保持卧室安静。")]


def judge_items(store: Store) -> str:
    """JUDGED as a `judge` version in `store`."""
    import pyarrow as pa

    rows = [{"id": f"j{i}", "kind": k, "prompt": p, "response": r, "answer": None, "lang": lang,
             "evolved_from": None, "judge_mean": 7.0} for i, (k, lang, p, r) in enumerate(JUDGED)]
    return store.import_tables("judge", [pa.Table.from_pylist(rows)]).ref


PRETRAIN = dict(seq_len=64, micro_batch=8, max_lr=3e-3, warmup_steps=3)


@contextmanager
def home(path: Path) -> Iterator[Store]:
    """ZHINAO_HOME set to `path` while the block runs (session fixtures run outside the per-test home)."""
    old = os.environ.get("ZHINAO_HOME")
    os.environ["ZHINAO_HOME"] = str(path)
    try:
        yield open_store()
    finally:
        if old is None:
            os.environ.pop("ZHINAO_HOME", None)
        else:
            os.environ["ZHINAO_HOME"] = old


def build_tiny_pretrained(path: Path) -> Path:
    """tokenizer -> token shards -> pretrain-stage1 (30 steps) -> pretrain-stage2 (6 steps) on labelled
    sample articles; the stage-2 model folder (a Llama folder with our ChatML tokenizer)."""
    from zhinao.tasks.pretrain.stage import PRETRAIN_STAGE1, PRETRAIN_STAGE2, AnnealParams, PretrainParams
    from zhinao.flows.stage import execute_stage

    from .pretrain_data import token_versions

    with home(path) as store:
        refs = token_versions()
        first = execute_stage(PRETRAIN_STAGE1, PretrainParams(steps=30, **PRETRAIN),
                              inputs={"tokens-stage1": refs["tokens-stage1"]})
        second = execute_stage(PRETRAIN_STAGE2, AnnealParams(steps=6, seq_len=64, micro_batch=8),
                               inputs={"tokens-stage2": refs["tokens-stage2"], "pretrain-stage1": first.ref})
        return store.model_path(second.ref)


@dataclass
class TrainedRewardModel:
    home: Path          # the store and catalog it was committed to
    ref: str            # reward-model@...
    folder: Path        # the HF folder (AutoModelForSequenceClassification, num_labels=1, tokenizer)
    pairs: str          # the preference-data version it trained on
    base: str           # the pretrain-stage2 version it started from
    stats: dict[str, Any]


def build_reward_model(path: Path, base_folder: Path) -> TrainedRewardModel:
    """The default preference set, then the reward-model stage with its defaults on the tiny model."""
    from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
    from zhinao.tasks.reward.model_stage import REWARD_MODEL, RewardModelParams
    from zhinao.flows.stage import execute_stage

    with home(path) as store:
        base = store.import_model("pretrain-stage2", base_folder, stage="test").ref
        pairs = execute_stage(PREFERENCE_DATA, PreferenceDataParams(use_ray=False)).ref
        r = execute_stage(REWARD_MODEL, RewardModelParams())
        return TrainedRewardModel(path, r.ref, store.model_path(r.ref), pairs, base, r.stats)
