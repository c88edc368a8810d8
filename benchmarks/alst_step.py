"""The anchor's path for benchmarks/long_phase.py: the same training step through DeepSpeed's own
Ulysses sequence parallelism for Hugging Face models (ALST: UlyssesSPAttentionHF,
UlyssesSPDataLoaderAdapter, `sequence_parallel_size`), on a transformers Llama of the tiny preset's
shape with SDPA attention, ZeRO-3, 2 ranks on gloo. Prints one JSON line: tokens/s of the steps after
the first, the largest rank's peak memory above what it held before its first step, and the first
step's loss.

    python benchmarks/alst_step.py --length 2048 [--vocab 32000] [--steps 3]

The loss follows DeepSpeed's ALST tutorial: each rank's mean over its tokens, weighted by its token
count through a differentiable all-gather. Measured against the plain model on 0.19.8, that gives the
full sequence's gradient under ZeRO-3 (whose reduce-scatter averages over the sequence ranks); under
ZeRO-1 it gives twice that (ZeRO-1 sums over them), so this benchmark keeps to ZeRO-3.
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


def _rank(rank: int, world: int, init: str, length: int, vocab: int, steps: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    import torch
    import deepspeed
    import deepspeed.comm as dist
    from deepspeed.runtime.sequence_parallel.ulysses_sp import UlyssesSPAttentionHF, UlyssesSPDataLoaderAdapter
    from deepspeed.utils import groups
    from torch.utils.data import DataLoader
    from transformers import AutoModelForCausalLM, LlamaConfig

    from zhinao.model import memory
    from zhinao.model.config import preset

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=init)
    deepspeed.init_distributed(dist_backend="gloo")
    shape = preset("tiny", vocab_size=vocab)
    cfg = LlamaConfig(hidden_size=shape.dim, intermediate_size=shape.ffn_dim, num_hidden_layers=shape.n_layers,
                      num_attention_heads=shape.n_heads, num_key_value_heads=shape.n_kv_heads, vocab_size=vocab,
                      max_position_embeddings=length, rms_norm_eps=shape.norm_eps)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa", dtype=torch.float32)
    mpu = UlyssesSPAttentionHF.register_with_transformers(   # the model object: nothing from a hub
        model_name_or_path=model, core_attn_implementation="sdpa", sequence_parallel_size=world,
        micro_batch_size=1, seq_length=length)
    engine, _, _, _ = deepspeed.initialize(
        model=model, optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3), mpu=mpu,
        config={"train_micro_batch_size_per_gpu": 1, "gradient_accumulation_steps": 1, "sequence_parallel_size": world,
                "zero_optimization": {"stage": 3}, "zero_allow_untested_optimizer": True, "gradient_clipping": 1.0,
                "steps_per_print": 10 ** 9})
    group = groups._get_sequence_parallel_group()
    gen = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(steps + 1):      # the same rows on every rank: the adapter shards each over the group
        ids = torch.randint(0, vocab, (length,), generator=gen)
        rows.append({"input_ids": ids, "labels": ids.clone(), "position_ids": torch.arange(length)})
    loader = UlyssesSPDataLoaderAdapter(
        DataLoader(rows, batch_size=1, collate_fn=lambda b: {k: torch.stack([r[k] for r in b]) for k in b[0]}),
        sp_rank=groups._get_sequence_parallel_rank(), sp_group=group, sp_world_size=world, device=engine.device)
    seconds, first, start = [], None, memory.reset_peak(torch.device("cpu"))
    for step, batch in enumerate(loader):
        if step > steps:
            break
        began = time.perf_counter()
        labels = batch.pop("shift_labels")
        logits = engine(**batch, use_cache=False).logits
        loss = engine.module.loss_function(logits=logits, labels=None, shift_labels=labels, vocab_size=vocab)
        good = (labels != -100).sum()
        losses = torch.distributed.nn.functional.all_gather(loss, group=group)
        goods = torch.distributed.nn.functional.all_gather(good, group=group)
        loss = sum(l * g for l, g in zip(losses, goods)) / max(sum(goods), 1)
        engine.backward(loss)
        engine.step()
        first = loss.item() if first is None else first
        if step:
            seconds.append(time.perf_counter() - began)
    peak = memory.peak(torch.device("cpu")) - start
    Path(out).write_text(json.dumps({"seconds": sum(seconds) / len(seconds), "peak_mib": peak, "loss": first}))
    dist.barrier()
    sys.stdout.flush()
    os._exit(0)          # as the training ranks: gloo's all-to-all may leave a destructor that aborts at exit


def main() -> None:
    import torch.multiprocessing as mp

    from zhinao.model.launch import free_port

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, required=True)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    world, port = 2, str(free_port())
    with tempfile.TemporaryDirectory() as tmp:
        outs = [f"{tmp}/rank{r}.json" for r in range(world)]
        procs = [mp.get_context("spawn").Process(target=_rank, args=(r, world, port, args.length, args.vocab,
                                                                     args.steps, outs[r])) for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            sys.exit(f"ranks exited with {[p.exitcode for p in procs]}")
        ranks = [json.loads(Path(o).read_text()) for o in outs]
    print(json.dumps({"tokens_per_s": args.length / max(r["seconds"] for r in ranks),
                      "peak_mib": max(r["peak_mib"] for r in ranks), "loss": ranks[0]["loss"]}))


if __name__ == "__main__":
    main()
