"""Training-step speed: forward + backward + AdamW step tokens/s of our Transformer vs transformers'
LlamaForCausalLM built from the identical config (the baseline), same weights, same batches, same run.
Then the DeepSpeed-wrapped step of the training loop (zhinao/model/train.py: engine forward, backward, step,
one rank on gloo) for each ZeRO stage asked, against the plain PyTorch step of the same model.

    python benchmarks/train_step.py --preset tiny --dim 256 --layers 4 --seq 256 --batch 8 --steps 10 --zero 0,1,2
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--zero", default="0,1,2", help="ZeRO stages for the DeepSpeed rows ('' for none)")
    args = ap.parse_args()
    import torch
    from transformers import LlamaForCausalLM

    from zhinao.model.config import preset
    from zhinao.model.hf import export_hf
    from zhinao.model.transformer import Transformer

    torch.manual_seed(0)
    cfg = preset(args.preset, dim=args.dim, n_layers=args.layers, max_seq_len=args.seq)
    ours = Transformer(cfg)
    folder = export_hf(ours, Path(tempfile.mkdtemp()) / "hf")
    theirs = LlamaForCausalLM.from_pretrained(folder, attn_implementation="sdpa")
    data = torch.randint(0, cfg.vocab_size, (args.steps + 2, args.batch, args.seq + 1))

    def step_ours(model, opt, x):
        _, loss = model(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def step_theirs(model, opt, x):
        loss = model(input_ids=x[:, :-1], labels=x[:, :-1]).loss      # HF shifts labels itself
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def timed(model, opt, step) -> float:
        model.train()
        for k in range(2):                                              # warm-up
            step(model, opt, data[k])
        start = time.perf_counter()
        for k in range(2, args.steps + 2):
            step(model, opt, data[k])
        return args.steps * args.batch * args.seq / (time.perf_counter() - start)

    rates = {}
    for name, model, step in (("transformers LlamaForCausalLM (baseline)", theirs, step_theirs),
                              ("ours: zhinao/model/transformer.py", ours, step_ours)):
        rates[name] = timed(model, torch.optim.AdamW(model.parameters(), lr=1e-4), step)
    print(f"{cfg.num_params() / 1e6:.1f}M parameters (dim {cfg.dim}, {cfg.n_layers} layers, {cfg.n_heads} heads, "
          f"{cfg.n_kv_heads} kv heads), batch {args.batch} x {args.seq} tokens, {torch.get_num_threads()} threads")
    report(rates, "transformers LlamaForCausalLM (baseline)")

    stages = [int(z) for z in args.zero.split(",") if z.strip()]
    if stages:
        plain = "plain PyTorch step, ours (baseline)"
        ds_rates = {plain: rates["ours: zhinao/model/transformer.py"]}
        for zero in stages:
            ds_rates[f"DeepSpeed ZeRO-{zero}, 1 rank (gloo)"] = deepspeed_rate(cfg, folder, zero, args, timed)
        report(ds_rates, plain)


def deepspeed_rate(cfg, folder, zero: int, args, timed) -> float:
    """The training loop's engine around a fresh copy of the same weights (zhinao/model/train.py's config)."""
    import os

    import deepspeed

    from zhinao.model.ds_config import deepspeed_config
    from zhinao.model.hf import import_hf
    from zhinao.model.train import param_groups
    from zhinao.model.train_spec import TrainSpec

    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"),
                       ("MASTER_PORT", "29533")):
        os.environ.setdefault(key, value)
    from zhinao.model.ds_ops import guard_jit_builds

    guard_jit_builds()
    deepspeed.init_distributed(dist_backend="gloo")
    spec = TrainSpec(data="-", out="-", checkpoints="-", preset=args.preset, model={"dim": cfg.dim,
                     "n_layers": cfg.n_layers, "max_seq_len": cfg.max_seq_len}, seq_len=args.seq,
                     micro_batch=args.batch, zero_stage=zero, max_lr=1e-4, weight_decay=0.0, grad_clip=0.0)
    model = import_hf(folder)
    engine, *_ = deepspeed.initialize(model=model, model_parameters=param_groups(model, 0.0),
                                      config=deepspeed_config(spec, 1))

    def step(eng, _opt, x):
        _, loss = eng(x[:, :-1], x[:, 1:])
        eng.backward(loss)
        eng.step()

    return timed(engine, None, step)


def report(rates: dict[str, float], baseline: str) -> None:
    base = rates[baseline]
    print(f"{'path':44} {'tokens/s':>10} {'vs baseline':>12}")
    for name, rate in rates.items():
        print(f"{name:44} {rate:10.0f} {rate / base:11.2f}x")


if __name__ == "__main__":
    main()
