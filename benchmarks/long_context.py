"""Long sequences on CPU: one training step (forward and backward) of a small GQA model at growing
lengths, with 1 and 2 sequence-parallel ranks (gloo, one process each), each backend, and the loss
from full logits or in chunks. Printed per case: tokens/s of the step, and each rank's peak memory
above its memory before the step (ru_maxrss, the rank's largest). The baseline of each length is
the plain one-rank step (SDPA attention, full logits), measured in the same run.

    python benchmarks/long_context.py [--lengths 1024,2048,4096] [--vocab 32000] [--repeat 2]

Ranks share this machine's cores, so 2 ranks are not a speed-up here: the figure that matters is the
memory per rank at a length, which is what decides the longest sequence a device holds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = [  # (name, ranks, backend or None for plain attention, chunked loss)
    ("1 rank, SDPA, full logits (baseline)", 1, None, False),
    ("1 rank, SDPA, chunked loss", 1, None, True),
    ("2 ranks, ring, chunked loss", 2, "ring", True),
    ("2 ranks, ulysses, chunked loss", 2, "ulysses", True),
]


def _rank(rank: int, world: int, init: str, length: int, vocab: int, backend: str | None, chunked: bool,
          repeat: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    from zhinao.model import memory
    from zhinao.model.config import preset
    from zhinao.model.seqpar.attention import Split
    from zhinao.model.seqpar.split import shard
    from zhinao.model.transformer import Transformer

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    if world > 1:
        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
        if backend == "ulysses":
            import deepspeed

            deepspeed.init_distributed(dist_backend="gloo")
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=vocab, max_seq_len=length))
    tokens = torch.randint(0, vocab, (1, length))
    targets = torch.roll(tokens, -1, dims=1)
    positions = torch.arange(length)[None]
    seconds = []
    for step in range(repeat + 1):                    # step 0 warms up (first-call allocations)
        if step == 1:
            base = memory.reset_peak(torch.device("cpu"))
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        if backend is None and not chunked:
            _, loss = model(tokens, targets)
        elif backend is None:                         # one rank: the split path's loss, no sharding
            hidden = model.norm(_layers(model, tokens))
            from zhinao.model.seqpar.loss import chunked_loss

            total, count = chunked_loss(hidden, model.output.weight, targets, chunk=1024)
            loss = total / count
        else:
            part = lambda x: shard(x, world, rank, dim=1)                  # noqa: E731
            split = Split(index=part(positions), backend=backend)
            _, loss = model(part(tokens), part(targets), part(positions), split=split, loss_chunk=1024)
        loss.backward()
        if step:
            seconds.append(time.perf_counter() - start)
    if world > 1:
        dist.barrier()
    Path(out).write_text(json.dumps({"rank": rank, "seconds": min(seconds), "peak_mib": memory.peak(torch.device("cpu")) - base}))
    if world > 1:
        dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)          # gloo's all-to-all leaves a static destructor that may abort at exit


def _layers(model, tokens):
    from zhinao.model.transformer import rope_tables

    cos, sin = rope_tables(model.cfg.head_dim, tokens.shape[1], model.cfg.rope_base)
    x = model.tok_embeddings(tokens)
    for layer in model.layers:
        x = layer(x, cos, sin)
    return x


def run_case(length: int, vocab: int, world: int, backend: str | None, chunked: bool, repeat: int) -> dict:
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        outs = [f"{tmp}/rank{r}.json" for r in range(world)]
        procs = [mp.get_context("spawn").Process(target=_rank, args=(r, world, f"file://{tmp}/rendezvous", length,
                                                                     vocab, backend, chunked, repeat, outs[r]))
                 for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            return {"error": f"exit codes {[p.exitcode for p in procs]}"}
        ranks = [json.loads(Path(o).read_text()) for o in outs]
    seconds = max(r["seconds"] for r in ranks)
    return {"tokens_per_s": length / seconds, "peak_mib": max(r["peak_mib"] for r in ranks)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="1024,2048,4096")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"model: the tiny preset (dim 128, 4 layers, 4 heads, 2 KV heads), vocabulary {args.vocab}; "
          f"one sequence per step; {os.cpu_count()} CPU cores shared by the ranks")
    print(f"{'length':>7}  {'case':<38} {'tokens/s':>9} {'x base':>7} {'peak MiB/rank':>14} {'x base':>7}")
    for length in (int(x) for x in args.lengths.split(",")):
        base = None
        for name, world, backend, chunked in CASES:
            r = run_case(length, args.vocab, world, backend, chunked, args.repeat)
            if "error" in r:
                print(f"{length:>7}  {name:<38} {r['error']}")
                continue
            base = base or r
            print(f"{length:>7}  {name:<38} {r['tokens_per_s']:>9.0f} {r['tokens_per_s'] / base['tokens_per_s']:>7.2f} "
                  f"{r['peak_mib']:>14.0f} {r['peak_mib'] / max(base['peak_mib'], 1e-9):>7.2f}")


if __name__ == "__main__":
    main()
