"""Alignment speed: samples/s of our dpo and grpo stages against TRL's DPOTrainer and GRPOTrainer
driven directly (the baseline) on the same model, pairs or prompts, rewards, steps and machine, in
the same run; and ReMax's time per step against GRPO's at the same number of rollouts.

Both sides train in float32 with TRL's other defaults (gradient checkpointing on), each in a fresh
process (ours: the stage's rank; TRL: this file run as a script, `--baseline`), so both pay the same
first-step warm-up; the model files are read once before either runs. A third row drives TRL
directly with our one change to it, the fused LM head projecting only the labelled positions on CPU
(zhinao/tasks/align/lm_head.py): baseline to it is what that change gains, it to our stage is what the
stage's orchestration costs. Two figures per path: the training loop alone (the trainer's own
time) and end to end (ours: plan, data preparation, the rank's start, training, saving and commit;
TRL: the script's start and imports, loading the model, training and saving).

    python benchmarks/align.py --steps 8 --batch 4 --generations 2 --completion-tokens 16 --repeat 2
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", help="the default generator or an HF folder")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4, help="DPO pairs / GRPO completions per step")
    ap.add_argument("--generations", type=int, default=4, help="GRPO/ReMax answers per prompt")
    ap.add_argument("--completion-tokens", type=int, default=32)
    ap.add_argument("--checkpoint-every", type=int, default=0, help="our stages' checkpoint cadence "
                    "(0: none before the final model, like TRL's baseline)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side, rotating which goes first; "
                    "the best of each is shown")
    ap.add_argument("--baseline", choices=["dpo", "grpo"], help=argparse.SUPPRESS)   # the script side
    ap.add_argument("--rows", help=argparse.SUPPRESS)
    ap.add_argument("--compact-head", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.baseline:
        if a.compact_head:
            from zhinao.tasks.align.lm_head import compact_on_cpu

            assert compact_on_cpu()
        run = _trl_dpo if a.baseline == "dpo" else _trl_grpo
        wall, loop = run(a.model, json.loads(Path(a.rows).read_text()), a)
        print(json.dumps({"loop": loop}))
        return
    os.environ["ZHINAO_HOME"] = tempfile.mkdtemp(prefix="align-bench-")

    import torch

    from zhinao.tasks.align.stage import DPO, GRPO, REMAX, DPOParams, GRPOParams, ReMaxParams
    from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.align.methods import pair_rows, prompt_rows
    from zhinao.tasks.generate.models import resolve_generator_model
    from zhinao.tasks.home import open_store

    model = str(resolve_generator_model(a.model))
    for f in Path(model).rglob("*"):            # page cache: neither side pays the first read
        if f.is_file():
            f.read_bytes()
    store = open_store()
    execute_stage(PREFERENCE_DATA, PreferenceDataParams(math_pairs=16, ifeval_pairs=16, use_ray=False))
    table = store.open_arrow("preference-data").to_pylist()
    common = dict(model=model, steps=a.steps, batch_size=a.batch, lr=1e-6, use_ray=False,
                  checkpoint_every=a.checkpoint_every or a.steps)
    rl = dict(num_generations=a.generations, max_completion_length=a.completion_tokens,
              rewards={"math": 1.0, "ifeval": 1.0}, backend="transformers")
    rows, same_head = [], []

    def ours(stage, params) -> tuple[float, float]:
        t = time.perf_counter()
        r = execute_stage(stage, params)
        wall = time.perf_counter() - t
        state = next(x["value"] for x in r.stats["tables"]["run"] if x["metric"] == "train_seconds")
        return wall, float(state)

    def script(method: str, method_rows: list[dict], compact: bool) -> tuple[float, float]:
        path = Path(os.environ["ZHINAO_HOME"]) / f"{method}-rows.json"
        path.write_text(json.dumps(method_rows))
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--baseline", method, "--rows", str(path), "--model", model,
                              "--steps", str(a.steps), "--batch", str(a.batch), "--generations", str(a.generations),
                              "--completion-tokens", str(a.completion_tokens)] + ["--compact-head"] * compact,
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        return time.perf_counter() - t, json.loads(out.strip().splitlines()[-1])["loop"]

    def fresh(params, i: int):
        """Repeat i of our stage as a new version (its lr differs in the 12th digit): never a cache hit."""
        return params.model_copy(update={"lr": params.lr * (1 + 1e-12 * i)})

    def pair(name: str, stage, params, method: str, method_rows: list[dict]) -> float:
        """Best of `repeat` runs of TRL's, TRL's with our LM head, and ours, each repeat in another
        order; returns our best loop time."""
        sides = [lambda i: script(method, method_rows, False), lambda i: script(method, method_rows, True),
                 lambda i: ours(stage, fresh(params, i))]
        runs: list[list[tuple[float, float]]] = [[], [], []]
        for i in range(a.repeat):
            for k in (0, 1, 2)[i % 3:] + (0, 1, 2)[:i % 3]:
                runs[k].append(sides[k](i))
        (rw, rl_), (cw, cl), (w, l) = (min(r, key=lambda x: x[1]) for r in runs)
        rows.extend([(f"{name}: TRL {name}Trainer directly (baseline)", rl_, rw, rl_, rw),
                     (f"{name}: TRL directly + our CPU LM head", cl, cw, rl_, rw),
                     (f"{name}: our {stage.name} stage", l, w, rl_, rw)])
        same_head.append(f"{name}: our stage vs TRL directly with the same LM head: loop {cl / l:.2f}x, "
                         f"end to end {cw / w:.2f}x")
        return l

    dpo, prompts = pair_rows(table)[0], prompt_rows(table)[0]
    pair("DPO", DPO, DPOParams(**common, max_length=512), "dpo", dpo)
    g_loop = pair("GRPO", GRPO, GRPOParams(**common, **rl), "grpo", prompts)
    m_loop = min(ours(REMAX, fresh(ReMaxParams(**common, **rl), i))[1] for i in range(a.repeat))

    samples = a.steps * a.batch
    print(f"model {Path(model).name}; {a.steps} steps x {a.batch} samples (GRPO/ReMax: completions, "
          f"{a.generations} per prompt, {a.completion_tokens} tokens); {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads; our checkpoints "
          f"{'every %d steps' % a.checkpoint_every if a.checkpoint_every else 'none but the final model'}; "
          f"best of {a.repeat} runs per side, in rotating order; same run")
    print(f"{'path':<44}{'loop samples/s':>16}{'vs TRL':>9}{'end-to-end samples/s':>23}{'vs TRL':>9}")
    for what, loop, wall, base_loop, base_wall in rows:
        print(f"{what:<44}{samples / loop:>16.2f}{base_loop / loop:>8.2f}x{samples / wall:>23.2f}"
              f"{base_wall / wall:>8.2f}x")
    print("\n".join(same_head))
    print(_positions(model, dpo, prompts, a.batch))
    print(f"ReMax vs GRPO, time per step at {a.batch} rollouts (+ one greedy answer per prompt): "
          f"{m_loop / a.steps:.2f} s vs {g_loop / a.steps:.2f} s ({m_loop / g_loop:.2f}x)")


def _positions(model: str, dpo: list[dict], prompts: list[dict], batch: int) -> str:
    """What the LM head projects: answer tokens against every position of DPO's padded batches (rows
    in order; TRL shuffles them, so this is indicative), and GRPO's mean prompt length."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)

    def n(messages: list[dict]) -> int:
        return len(tok.apply_chat_template(messages, tokenize=True)["input_ids"])

    answers = positions = 0
    for i in range(0, len(dpo), batch):
        lens = [(n(r["prompt"]), n(r["prompt"] + r["chosen"]), n(r["prompt"] + r["rejected"])) for r in dpo[i:i + batch]]
        answers += sum(c + r - 2 * p for p, c, r in lens)
        positions += 2 * len(lens) * max(max(c, r) for _, c, r in lens)
    mean_prompt = sum(n(r["prompt"]) for r in prompts) / len(prompts)
    return (f"answer tokens: {answers / positions:.0%} of the positions of DPO's padded batches of {batch} pairs; "
            f"GRPO prompts {mean_prompt:.0f} tokens on average")


def _args(cls, out: str, a, **kw):
    import torch

    return cls(output_dir=out, max_steps=a.steps, per_device_train_batch_size=a.batch, learning_rate=1e-6,
               lr_scheduler_type="cosine", logging_steps=1, save_strategy="no", report_to=[], seed=0,
               use_cpu=not torch.cuda.is_available(), disable_tqdm=True,
               # the stages' precision (float32): TRL's configs default to bf16 autocast, several times slower
               # on CPUs without bf16 matrix units, which would flatter ours
               bf16=False, model_init_kwargs={"dtype": torch.float32}, **kw)


def _timed_train(trainer) -> float:
    t = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t


def _trl_dpo(model: str, rows: list[dict], a) -> tuple[float, float]:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    t = time.perf_counter()
    out = tempfile.mkdtemp(prefix="trl-dpo-")
    tok = AutoTokenizer.from_pretrained(model)
    trainer = DPOTrainer(model=model, args=_args(DPOConfig, out, a, max_length=512, beta=0.1),
                         train_dataset=Dataset.from_list(rows), processing_class=tok)
    loop = _timed_train(trainer)
    trainer.save_model(out + "/final")
    return time.perf_counter() - t, loop


def _trl_grpo(model: str, rows: list[dict], a) -> tuple[float, float]:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from zhinao.tasks.align.rewards import reward_functions

    t = time.perf_counter()
    out = tempfile.mkdtemp(prefix="trl-grpo-")
    tok = AutoTokenizer.from_pretrained(model)
    funcs, weights = reward_functions({"math": 1.0, "ifeval": 1.0}, None)
    args = _args(GRPOConfig, out, a, num_generations=a.generations, max_completion_length=a.completion_tokens,
                 beta=0.04, reward_weights=weights, loss_type="grpo", scale_rewards="group", temperature=1.0)
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tok)
    loop = _timed_train(trainer)
    trainer.save_model(out + "/final")
    return time.perf_counter() - t, loop


if __name__ == "__main__":
    main()
