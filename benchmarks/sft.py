"""SFT training speed: the sft stage's training loop (zhinao/model/train.py: the DeepSpeed engine on packed
samples from zhinao/model/packed.py, one rank on gloo, launched as the stage launches it) against TRL's
SFTTrainer (the baseline), same run, same machine, same tiny Llama folder, same conversations
rendered with its chat template and masked to the assistant tokens, same naive packing (TRL:
packing_strategy="wrapped", rows cut from the concatenated samples), batch, LR and optimizer
settings. Tokens/s count row tokens (batch x max_len) over the timed steps, after warm-up steps.

Then the share of non-padding tokens per batch: naive packing, document-masked packing (whole
samples, best-fit decreasing), and without packing (each sample padded to max_len, or each batch
padded to its longest sample).

    (trl, the baseline, is a dependency of the project: the alignment stages use it)
    python benchmarks/sft.py --per-topic 4 --max-len 512 --batch 8 --steps 12 --warmup 2
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_model(root: Path, dim: int, layers: int, max_len: int) -> Path:
    """A fresh Llama folder of our tiny shape with the tokenizer stage's BPE and ChatML template."""
    import torch

    from zhinao.model.config import preset
    from zhinao.model.hf import export_hf
    from zhinao.model.transformer import Transformer
    from zhinao.tasks.corpus.labelled import labelled_articles
    from zhinao.tasks.tokenizer.bpe import save_tokenizer, train_bpe

    tok = save_tokenizer(train_bpe([r["text"] for r in labelled_articles(3)], 1500), root / "tokenizer")
    torch.manual_seed(0)
    cfg = preset("tiny", vocab_size=1536, dim=dim, n_layers=layers, max_seq_len=max(256, max_len))
    return export_hf(Transformer(cfg), root / "model", tok)


def ours(folder: Path, samples, args, work: Path, pad_id: int) -> tuple[float, list[float]]:
    """Tokens/s of the stage's loop, from its metrics (the row times are taken before checkpoints)."""
    from zhinao.model.launch import launch
    from zhinao.model.metrics import read_metrics
    from zhinao.model.packed import write_packed
    from zhinao.model.train_spec import TrainSpec
    from zhinao.tasks.sft.pack import pack

    packed = pack(samples, args.max_len, "naive", pad_id=pad_id, seed=0)
    write_packed(work / "data", {"train": packed.training_arrays(), "valid": packed.training_arrays()},
                 {"mode": "naive", "max_len": args.max_len})
    steps = args.steps + args.warmup
    spec = TrainSpec(data=str(work / "data"), out=str(work / "final"), checkpoints=str(work), source="packed",
                     init_from=str(folder), tokenizer=str(folder), seq_len=args.max_len, micro_batch=args.batch,
                     steps=steps, max_lr=args.lr, weight_decay=0.1, schedule="cosine_floor", floor_ratio=0.0,
                     zero_stage=args.zero, precision="fp32", checkpoint_every=10 ** 6, eval_batches=1, log_every=1)
    launch(spec.save(work / "train_spec.json"), 1)
    rows = read_metrics(work / "metrics.jsonl")
    start, end = rows[args.warmup - 1], rows[-1]
    return (end["tokens"] - start["tokens"]) / (end["elapsed_s"] - start["elapsed_s"]), [r["loss"] for r in rows]


def trl(folder: Path, samples, args, work: Path) -> tuple[float, list[float]]:
    """Tokens/s of SFTTrainer.train over the same timed steps (a callback clocks each step's end)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    ends: list[float] = []
    losses: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, _args, state, control, **kw):
            ends.append(time.perf_counter())

        def on_log(self, _args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(logs["loss"])

    data = Dataset.from_dict({"input_ids": [s.ids.tolist() for s in samples],
                              "assistant_masks": [s.trained.astype(int).tolist() for s in samples]})
    config = SFTConfig(output_dir=str(work), packing=True, packing_strategy="wrapped", max_length=args.max_len,
                       per_device_train_batch_size=args.batch, gradient_accumulation_steps=1,
                       max_steps=args.steps + args.warmup, learning_rate=args.lr, weight_decay=0.1, max_grad_norm=1.0,
                       adam_beta2=0.95, lr_scheduler_type="cosine", logging_steps=1, save_strategy="no",
                       eval_strategy="no", report_to=[], use_cpu=True, bf16=False, dataloader_num_workers=0,
                       seed=0, shuffle_dataset=False, disable_tqdm=True)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa")
    trainer = SFTTrainer(model=model, args=config, train_dataset=data,
                         processing_class=AutoTokenizer.from_pretrained(folder), callbacks=[Clock()])
    trainer.train()
    timed = len(ends) - args.warmup
    return timed * args.batch * args.max_len / (ends[-1] - ends[args.warmup - 1]), losses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-topic", type=int, default=4, help="sample articles per topic and language -> chats")
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=12, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--zero", type=int, default=1, help="ZeRO stage of our loop (the stage's default: 1)")
    args = ap.parse_args()
    import torch

    from zhinao.tasks.corpus.chats import sample_chats
    from zhinao.tasks.sft.pack import Sample, dynamic_padding_share, pack
    from zhinao.tasks.sft.render import ChatRenderer

    root = Path(tempfile.mkdtemp(prefix="sft-bench-"))
    folder = build_model(root, args.dim, args.layers, args.max_len)
    renderer = ChatRenderer.from_folder(folder)
    chats = sample_chats(args.per_topic)
    # cut to max_len for both: TRL's wrapped packing would keep the tail our loop truncates
    samples = [Sample(ids[:args.max_len], trained[:args.max_len])
               for ids, trained in (renderer.encode(c["messages"]) for c in chats)]
    tokens = sum(len(s.ids) for s in samples)
    print(f"{len(samples)} conversations, {tokens} tokens ({tokens / len(samples):.0f} a conversation), model dim "
          f"{args.dim} x {args.layers} layers, rows of {args.max_len}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads; {args.steps} timed steps after {args.warmup}")

    rates, losses = {}, {}
    base = "TRL SFTTrainer, packing wrapped (baseline)"
    rates[base], losses[base] = trl(folder, samples, args, root / "trl")
    mine = f"ours: sft loop (DeepSpeed ZeRO-{args.zero}, 1 rank), naive"
    rates[mine], losses[mine] = ours(folder, samples, args, root / "ours", renderer.pad_id)
    print(f"\n{'path':48} {'tokens/s':>10} {'vs TRL':>8}   loss first -> last")
    for name, rate in rates.items():
        print(f"{name:48} {rate:10.0f} {rate / rates[base]:7.2f}x   {losses[name][0]:.3f} -> {losses[name][-1]:.3f}")

    print(f"\nnon-padding share of the rows (max_len {args.max_len}, batch {args.batch}):")
    for mode in ("naive", "document", "none"):
        st = pack(samples, args.max_len, mode, renderer.pad_id).stats()
        label = {"naive": "naive packing", "document": "document-masked packing (best-fit decreasing)",
                 "none": "no packing, padded to max_len"}[mode]
        print(f"  {label:48} {st['non_padding_share']:6.1%}  ({st['rows']} rows)")
    print(f"  {'no packing, each batch padded to its longest':48} "
          f"{dynamic_padding_share(samples, args.batch, args.max_len):6.1%}")
    print(json.dumps({"tokens_per_s": rates}, indent=None))


if __name__ == "__main__":
    main()
