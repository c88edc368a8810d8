"""A long-phase training step through the real training ranks (zhinao/model/train.py: DeepSpeed,
gloo) at growing lengths: one rank with ZeRO-1 and full logits (the baseline, measured in the same
run), and 2 sequence-parallel ranks under ZeRO-3 with activation checkpointing and the chunked
loss, with and without ZeRO-3 offload of optimizer and parameters, ring or Ulysses. Printed per
case and length: tokens/s of the steps after the first; the largest rank's peak memory above what
it held before its first step (the run's `peak_mem_above_start_mib`: activations, gradients,
optimizer state, communication buffers; not Python, torch and DeepSpeed themselves); then, per
case, the longest length whose step peak stays within --budget-mib. The anchor's own path, DeepSpeed's ALST (Ulysses for a
transformers Llama of the same shape, ZeRO-3, benchmarks/alst_step.py), runs the same lengths in
the same run.

    python benchmarks/long_phase.py [--lengths 1024,2048,4096,8192] [--budget-mib 1200] [--steps 3]

Both ranks share this machine's cores, so 2 ranks are not a speed-up here; the figure is memory
per rank, which decides the longest sequence a device holds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASE = dict(zero_stage=1)
SPLIT = dict(sp_size=2, zero_stage=3, activation_checkpointing=True, loss_chunk=1024)
CASES = [  # (name, ranks, spec fields)
    ("1 rank, ZeRO-1, full logits (baseline)", 1, BASE),
    ("2 SP ranks, ring, ZeRO-3, ckpt, chunked", 2, SPLIT | {"sp_backend": "ring"}),
    ("2 SP ranks, ring, ZeRO-3 + offload", 2, SPLIT | {"sp_backend": "ring", "offload_optimizer": True,
                                                       "offload_params": True}),
    ("2 SP ranks, ulysses, ZeRO-3, ckpt, chunked", 2, SPLIT | {"sp_backend": "ulysses"}),
    ("DeepSpeed ALST, HF Llama, ZeRO-3 (anchor)", 2, None),
]


def one_case(config: str) -> None:
    """In its own process: launch the ranks once, print tokens/s and the largest rank's step peak."""
    import numpy as np

    from zhinao.model.launch import launch
    from zhinao.model.metrics import read_metrics
    from zhinao.model.packed import write_packed
    from zhinao.model.train_spec import TrainSpec

    c = json.loads(config)
    length, vocab, steps = c["length"], c["vocab"], c["steps"]
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        tokens = rng.integers(0, vocab, size=(steps + 1, length))
        targets = np.roll(tokens, -1, axis=1)
        targets[:, -1] = -100
        write_packed(f"{tmp}/data", {"train": {"tokens": tokens, "targets": targets},
                                     "valid": {"tokens": tokens[:1], "targets": targets[:1]}},
                     {"mode": "naive", "max_len": length})
        spec = TrainSpec(data=f"{tmp}/data", out=f"{tmp}/out", checkpoints=f"{tmp}/ck", preset="tiny",
                         model={"vocab_size": vocab, "max_seq_len": length}, seq_len=length, micro_batch=1,
                         steps=steps, source="packed", precision="fp32", checkpoint_every=10 ** 6,
                         eval_batches=1, **c["fields"])
        Path(spec.checkpoints).mkdir()
        launch(spec.save(Path(tmp) / "spec.json"), c["ranks"])
        rows = read_metrics(Path(spec.out) / "metrics.jsonl")
        state = json.loads((Path(spec.out) / "trainer_state.json").read_text())
    rates = [r["tokens_per_s"] for r in rows[1:] if r.get("tokens_per_s")]
    print(json.dumps({"tokens_per_s": sum(rates) / len(rates), "peak_mib": state["peak_mem_above_start_mib"]}))


def run_case(length: int, vocab: int, steps: int, ranks: int, fields: dict | None) -> dict:
    config = json.dumps({"length": length, "vocab": vocab, "steps": steps, "ranks": ranks, "fields": fields})
    command = [sys.executable, __file__, "--one", config] if fields is not None else \
        [sys.executable, str(Path(__file__).with_name("alst_step.py")), "--length", str(length), "--vocab", str(vocab),
         "--steps", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="1024,2048,4096,8192")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--budget-mib", type=float, default=1200.0)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return one_case(args.one)
    print(f"model: the tiny preset (dim 128, 4 layers, 4 heads, 2 KV heads), vocabulary {args.vocab}; one "
          f"sequence per step, {args.steps} steps (the first not timed); {os.cpu_count()} CPU cores shared by the ranks")
    print(f"{'length':>7}  {'case':<44} {'tokens/s':>9} {'x base':>7} {'step MiB/rank':>14} {'x base':>7}")
    fits: dict[str, int] = {}
    for length in (int(x) for x in args.lengths.split(",")):
        base = None
        for name, ranks, fields in CASES:
            r = run_case(length, args.vocab, args.steps, ranks, fields)
            if "error" in r:
                print(f"{length:>7}  {name:<44} {r['error']}")
                continue
            base = base or r
            if r["peak_mib"] <= args.budget_mib:
                fits[name] = length
            print(f"{length:>7}  {name:<44} {r['tokens_per_s']:>9.0f} {r['tokens_per_s'] / base['tokens_per_s']:>7.2f} "
                  f"{r['peak_mib']:>14.0f} {r['peak_mib'] / base['peak_mib']:>7.2f}", flush=True)
    print(f"longest length within {args.budget_mib:.0f} MiB per rank:")
    for name, _, _ in CASES:
        print(f"  {name:<44} {fits.get(name, 'none of those measured')}")


if __name__ == "__main__":
    main()
