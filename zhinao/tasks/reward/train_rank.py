"""One rank of a reward-model run: `python -m zhinao.tasks.reward.train_rank SPEC.json`, started by
zhinao/model/launch.py (gloo on CPU, NCCL on GPUs) like a pretraining rank.

The loop: the base causal LM with a one-output sequence-classification head (transformers'
AutoModelForSequenceClassification: LlamaForSequenceClassification on our exported models), wrapped
by DeepSpeed with the ZeRO plan of the spec -> resume from the newest complete checkpoint -> per
step, micro-batches of pairs chosen by step number, chosen and rejected scored in one forward pass,
Bradley-Terry loss -> metrics line -> validation accuracy and margins on the held-out pairs every
`eval_every` steps and at the end -> checkpoints -> rank 0 writes the reward model (weights, config
with num_labels=1 and the pad token, tokenizer), its validation scores and run summary."""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from zhinao.model import checkpoint
from zhinao.model.ds_config import deepspeed_config, use_bf16
from zhinao.model.metrics import MetricsLog, read_metrics
from zhinao.model.train import KILL_AT_STEP, gathered_state, local_grad_norm, param_groups, rank_main, start_rank

from .bt import bt_loss, by_group, summary
from .pair_data import PairSet, collate, load_tokenizer
from .rm_spec import RewardSpec

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("torch", "deepspeed", "transformers")}

log = logging.getLogger("zhinao.reward")


def build_model(spec: RewardSpec, tok, ds_config: dict):
    """The base model with a fresh one-output score head (a reward model given as base keeps its
    own). Under ZeRO-3, transformers builds it partitioned (HfDeepSpeedConfig), so no rank holds the
    whole model; the returned config object must stay alive while the engine runs."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(spec.model, num_labels=1, pad_token_id=tok.pad_token_id)
    keep = None
    if spec.zero_stage == 3:
        from transformers.integrations import HfDeepSpeedConfig

        keep = HfDeepSpeedConfig(ds_config)
    torch.manual_seed(spec.seed)           # the score head's initialisation
    model = AutoModelForSequenceClassification.from_pretrained(spec.model, config=config, dtype=torch.float32)
    if spec.activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, keep


def rewards(engine, rows: list[dict], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(r_chosen, r_rejected) of a batch of pairs, both sides in one forward pass."""
    ids, mask = collate([r["chosen_ids"] for r in rows] + [r["rejected_ids"] for r in rows], pad_id)
    scores = engine(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, 0].float()
    return scores[:len(rows)], scores[len(rows):]


def evaluate(engine, data: PairSet, spec: RewardSpec, pad_id: int, device, rank: int, world: int) -> list[dict]:
    """Every validation pair's scores (on rank 0; the others return []). Each rank scores its share;
    all run the same number of batches, since a ZeRO-3 forward pass needs every rank."""
    mine = data.valid[rank::world]
    batches = torch.tensor(-(-len(mine) // spec.eval_batch))
    dist.all_reduce(batches, op=dist.ReduceOp.MAX)
    out = []
    engine.eval()
    with torch.no_grad():
        for b in range(int(batches)):
            part = mine[b * spec.eval_batch:(b + 1) * spec.eval_batch]
            # a rank out of pairs still runs the pass (on a training pair, scores discarded)
            rows = [data.rows[i] for i in part] or [data.rows[data.train[0]]]
            rc, rr = rewards(engine, rows, pad_id, device)
            for i, c, r in zip(part, rc.tolist(), rr.tolist()):
                row = data.rows[i]
                out.append({"id": row["id"], "category": row["category"], "lang": row["lang"], "origin": row["origin"],
                            "r_chosen": c, "r_rejected": r, "margin": c - r})
    engine.train()
    gathered = [None] * world
    dist.all_gather_object(gathered, out)
    return sorted((r for part in gathered for r in part), key=lambda r: r["id"]) if rank == 0 else []


def train(spec: RewardSpec) -> dict:
    import deepspeed

    rank, world, device = start_rank(spec.backend)
    tok = load_tokenizer(spec.model)
    data = PairSet(spec.pairs, spec.seed)
    if not data.train:
        raise ValueError(f"{spec.pairs}: no training pairs")
    config = deepspeed_config(spec, world)
    model, _keep = build_model(spec, tok, config)
    schedule = spec.lr_schedule()
    engine, _, _, lr_sched = deepspeed.initialize(
        model=model, model_parameters=param_groups(model, spec.weight_decay), config=config,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s) / spec.max_lr))

    step, (resumed, state) = 0, checkpoint.resume(engine, spec.checkpoints)
    if resumed is not None:
        step = int(state["step"])
        if rank == 0:
            log.info("resumed from the checkpoint at step %d", step)
    metrics = MetricsLog(Path(spec.checkpoints) / "metrics.jsonl", resume_step=resumed) if rank == 0 else None
    pad = tok.pad_token_id
    kill_at = int(os.environ.get(KILL_AT_STEP, 0)) if resumed is None else 0     # resume tests' fault injection
    last_time, last_tokens, tokens, started = time.perf_counter(), 0, 0, time.perf_counter()
    valid_rows: list[dict] | None = None          # the last validation's scores (rank 0's; [] elsewhere)
    engine.train()
    while step < spec.steps:
        lr = lr_sched.optimizer.param_groups[0]["lr"]
        sums = torch.zeros(3)                   # loss, correct pairs, margin (this rank, all micro-steps)
        for micro in range(spec.grad_accum):
            rows = data.batch(step * spec.grad_accum + micro, spec.micro_batch, rank, world)
            rc, rr = rewards(engine, rows, pad, device)
            loss = bt_loss(rc, rr)
            engine.backward(loss)
            if micro == spec.grad_accum - 1 and spec.zero_stage == 0:
                norm = local_grad_norm(engine)
            engine.step()
            margin = (rc - rr).detach().cpu()
            sums += torch.tensor([loss.item(), float((margin > 0).sum()) / len(rows), float(margin.mean())])
            tokens += sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows)
        if spec.zero_stage > 0:
            norm = float(engine.get_global_grad_norm())
        dist.all_reduce(sums)
        step += 1
        n = spec.grad_accum * world
        row = {"step": step, "loss": sums[0].item() / n, "accuracy": sums[1].item() / n, "margin": sums[2].item() / n,
               "lr": lr, "grad_norm": norm, "pairs": step * spec.pairs_per_step(world)}
        if step % spec.log_every == 0 or step == spec.steps:
            now = time.perf_counter()
            row |= {"tokens_per_s": (tokens - last_tokens) * world / max(now - last_time, 1e-9),
                    "elapsed_s": now - started}
            last_time, last_tokens = now, tokens
        if (spec.eval_every and step % spec.eval_every == 0) or step == spec.steps:
            valid_rows = evaluate(engine, data, spec, pad, device, rank, world)
            if rank == 0 and valid_rows:
                s = summary([r["margin"] for r in valid_rows])
                row |= {"valid_loss": s["loss"], "valid_accuracy": s["accuracy"], "valid_margin": s["mean_margin"]}
        if metrics is not None:
            metrics.write(row)
        if step % spec.checkpoint_every == 0 or step == spec.steps:
            checkpoint.save(engine, spec.checkpoints, step, {"step": step}, spec.keep_checkpoints)
        if kill_at and step == kill_at and rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    if valid_rows is None:          # resumed after the last step: the scores of the final weights
        valid_rows = evaluate(engine, data, spec, pad, device, rank, world)
    weights = gathered_state(engine, spec.zero_stage)
    out = {}
    if rank == 0:
        out = finish(spec, engine.module, tok, weights, valid_rows, world, resumed, time.perf_counter() - started)
    dist.barrier()
    return out


def finish(spec: RewardSpec, module, tok, weights: dict, valid_rows: list[dict], world: int, resumed: int | None,
           seconds: float) -> dict:
    """Rank 0: the reward model folder (written under a temporary name, then renamed)."""
    out = Path(spec.out)
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    from safetensors.torch import save_file

    # config and gathered weights written directly: transformers' save_pretrained on a ZeRO-3 module
    # would gather its parameters again, a collective rank 0 cannot run alone
    config = module.config
    config.pad_token_id, config.architectures = tok.pad_token_id, [type(module).__name__]
    config.save_pretrained(tmp)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"),
              metadata={"format": "pt"})
    tok.save_pretrained(tmp)
    rows = read_metrics(Path(spec.checkpoints) / "metrics.jsonl")
    shutil.copyfile(Path(spec.checkpoints) / "metrics.jsonl", tmp / "metrics.jsonl")
    with (tmp / "validation.jsonl").open("w") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in valid_rows)
    overall = summary([r["margin"] for r in valid_rows])
    state = {"steps": spec.steps, "pairs_seen": rows[-1]["pairs"], "world_size": world, "zero_stage": spec.zero_stage,
             "precision": "bf16" if use_bf16(spec) else "fp32", "params": sum(w.numel() for w in weights.values()),
             "first_loss": rows[0]["loss"], "final_loss": rows[-1]["loss"], "valid_pairs": overall["pairs"],
             "valid_accuracy": overall["accuracy"], "valid_mean_margin": overall["mean_margin"],
             "valid_loss": overall["loss"], "by_category": by_group(valid_rows, "category"),
             "by_lang": by_group(valid_rows, "lang"), "by_origin": by_group(valid_rows, "origin"),
             "train_seconds": seconds, "resumed_from_step": resumed}
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2, ensure_ascii=False))
    spec.save(tmp / "train_spec.json")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return state


def main(argv: list[str] | None = None) -> int:
    return rank_main(argv, "zhinao.tasks.reward.train_rank", RewardSpec.load, lambda spec: {
        "the base model": spec.model, "the tokenized pairs": spec.pairs, "the checkpoint folder": spec.checkpoints},
        train)


if __name__ == "__main__":
    sys.exit(main())
