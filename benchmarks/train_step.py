"""Training-step speed: forward + backward + AdamW step tokens/s of our Transformer vs transformers'
LlamaForCausalLM built from the identical config (the baseline), same weights, same batches, same run.

    python benchmarks/train_step.py --preset tiny --dim 256 --layers 4 --seq 256 --batch 8 --steps 10
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
    args = ap.parse_args()
    import torch
    from transformers import LlamaForCausalLM

    from model.config import preset
    from model.hf import export_hf
    from model.transformer import Transformer

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

    rates = {}
    for name, model, step in (("transformers LlamaForCausalLM (baseline)", theirs, step_theirs),
                              ("ours: model/transformer.py", ours, step_ours)):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for k in range(2):                                              # warm-up
            step(model, opt, data[k])
        start = time.perf_counter()
        for k in range(2, args.steps + 2):
            step(model, opt, data[k])
        rates[name] = args.steps * args.batch * args.seq / (time.perf_counter() - start)
    base = rates["transformers LlamaForCausalLM (baseline)"]
    print(f"{cfg.num_params() / 1e6:.1f}M parameters (dim {cfg.dim}, {cfg.n_layers} layers, {cfg.n_heads} heads, "
          f"{cfg.n_kv_heads} kv heads), batch {args.batch} x {args.seq} tokens, {torch.get_num_threads()} threads")
    print(f"{'path':44} {'tokens/s':>10} {'vs baseline':>12}")
    for name, rate in rates.items():
        print(f"{name:44} {rate:10.0f} {rate / base:11.2f}x")


if __name__ == "__main__":
    main()
