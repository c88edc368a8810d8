"""One rank of a pretraining run: `python -m model.train SPEC.json`, started by zhinao/model/launch.py (or
the deepspeed launcher) with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT set.

The loop: DeepSpeed engine around the plain model (ZeRO stage, offload and precision from the spec,
activation checkpointing applied around the blocks) -> resume from the newest intact checkpoint (a
damaged one gives way to the one before) -> for each step, gradient-accumulated micro-batches chosen
by step number (so a resumed run sees the data order of an uninterrupted one) -> metrics line ->
checkpoint every N steps -> rank 0 writes the finished model as a Hugging Face Llama folder with the
run's metrics.

The data: windows of token shards (pretraining) or packed chat samples (SFT, zhinao/model/packed.py). An
epoch run (SFT) ends each epoch with a validation loss, a Llama folder of the epoch's weights under
`epochs/` beside the checkpoints, and a checkpoint; its final folder then holds the run's metrics
and summary, and the epochs' folders are its models."""
from __future__ import annotations

import json
import logging
from contextlib import nullcontext
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist

from . import checkpoint, memory
from .data import TokenWindows
from .ds_ops import guard_jit_builds
from .ds_config import deepspeed_config, use_bf16
from .flops import device_peak_flops, flops_per_token
from .hf import export_hf, hf_weights, load_weights, weights_problem
from .launch import FINAL_EXIT, die_with_driver
from .metrics import MetricsLog, read_metrics
from .packed import PackedSamples, steps_per_epoch
from .parallel import apply_activation_checkpointing, plain_state_dict
from .seqpar.groups import SequenceGroup
from .shared_paths import require_visible
from .train_spec import TrainSpec
from .transformer import Transformer

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("torch", "deepspeed")}

log = logging.getLogger("zhinao.train")
KILL_AT_STEP = "ZHINAO_KILL_AT_STEP"   # fault injection for resume tests: SIGKILL rank 0 after this step


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices, none on norms (1-D weights). A ZeRO-3 shard keeps its full shape in
    `ds_shape` (its own data is flat)."""
    def matrix(p: torch.Tensor) -> bool:
        return len(getattr(p, "ds_shape", p.shape)) >= 2

    decay = [p for p in model.parameters() if matrix(p)]
    other = [p for p in model.parameters() if not matrix(p)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]


def build_model(spec: TrainSpec, ds_config: dict) -> Transformer:
    """The model, fresh (seeded) or from `init_from`. Under ZeRO-3 it is built inside zero.Init, so
    each rank only ever holds its shard of the parameters (a 7B model is never whole on one rank);
    `init_from` weights are read on rank 0 only and go in one parameter at a time (load_sharded)."""
    import deepspeed

    torch.manual_seed(spec.seed)
    cfg = spec.model_config()
    if cfg.max_seq_len < spec.seq_len:
        raise ValueError(f"{spec.init_from}: max_seq_len {cfg.max_seq_len} < seq_len {spec.seq_len}")
    sharded = spec.zero_stage == 3
    with deepspeed.zero.Init(config_dict_or_path=ds_config) if sharded else nullcontext():
        model = Transformer(cfg)
    if sharded:     # a split sequence's chunked loss reads the output weight outside its module's forward
        deepspeed.zero.register_external_parameter(model, model.output.weight)
    if spec.init_from and sharded:
        load_sharded(model, spec.init_from)
    elif spec.init_from:
        load_weights(model, hf_weights(spec.init_from), spec.init_from)
    if spec.activation_checkpointing:
        apply_activation_checkpointing(model)
    return model


def load_sharded(model: Transformer, folder: str) -> None:
    """ZeRO-3: `folder`'s weights into a partitioned model. Rank 0 alone reads them (a CPU state
    dict); each parameter in turn is gathered, filled on rank 0, broadcast and partitioned again, so
    besides its shards a rank holds one whole parameter at a time, never the model. Every rank must
    call this; a checkpoint that does not fit raises on all of them."""
    import deepspeed

    rank = dist.get_rank()
    params = list(model.named_parameters())
    state, problem = None, None
    if rank == 0:
        state = hf_weights(folder)
        problem = weights_problem({name: tuple(p.ds_shape) for name, p in params}, state, folder)
    verdict = [problem]
    dist.broadcast_object_list(verdict, src=0)
    if verdict[0]:
        raise ValueError(verdict[0])
    for name, p in params:
        with deepspeed.zero.GatheredParameters([p], modifier_rank=0):
            if rank == 0:
                with torch.no_grad():
                    p.data.copy_(state.pop(name))


def carry_state(engine, scheduler, folder: str) -> None:
    """Continue another run's optimizer: its fp32 master weights and AdamW moments (and step count)
    from its final DeepSpeed checkpoint. The LR schedule, betas and weight decay stay this run's own
    (loading the optimizer state would bring back the other run's). A damaged final checkpoint raises
    rather than falling back: an earlier one would start from other weights than `init_from`'s."""
    step = checkpoint.latest(folder)
    if step is None:
        raise FileNotFoundError(f"{folder}: no complete DeepSpeed checkpoint to continue the optimizer from")
    own = [{k: v for k, v in g.items() if k != "params"} for g in scheduler.optimizer.param_groups]
    checkpoint.load(engine, folder, step, scheduler=False)
    for group, settings in zip(scheduler.optimizer.param_groups, own):
        group.update(settings)
    if dist.get_rank() == 0:
        log.info("continuing the optimizer state of %s (step %d)", folder, step)


def gathered_state(engine, zero_stage: int) -> dict[str, torch.Tensor] | None:
    """The full fp32 weights on rank 0, as a CPU state dict (every rank must call this). ZeRO-3
    gathers one parameter at a time and rank 0 copies it out before it is partitioned again, so no
    rank holds more than its shards plus one whole parameter (rank 0's copy is in host memory)."""
    import deepspeed

    rank = dist.get_rank()
    entries = engine.module.state_dict(keep_vars=True)
    out: dict[str, torch.Tensor] = {}
    for name, t in entries.items():
        zero_param = zero_stage == 3 and hasattr(t, "ds_id")
        with deepspeed.zero.GatheredParameters([t], modifier_rank=None) if zero_param else nullcontext():
            if rank == 0:
                out[name] = t.detach().float().cpu().clone()
    return plain_state_dict(out) if rank == 0 else None


def local_grad_norm(engine) -> float:
    """Without ZeRO, DeepSpeed does not record the norm; the reduced gradients are whole on every
    rank, so it is computed from them (before the step clips and clears them)."""
    grads = [p.grad for p in engine.module.parameters() if p.grad is not None]
    return float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0


def open_data(spec: TrainSpec, world: int):
    """(training data, validation data) of the run's source."""
    if spec.source == "packed":
        data = PackedSamples(spec.data, spec.seed, spec.micro_batch * spec.grad_accum * world)
        if data.seq_len != spec.seq_len:
            raise ValueError(f"{spec.data}: rows of {data.seq_len} tokens, but seq_len is {spec.seq_len}")
        if spec.epoch_steps and spec.epoch_steps != steps_per_epoch(len(data), data.global_batch):
            raise ValueError(f"{spec.data}: {len(data)} rows make {steps_per_epoch(len(data), data.global_batch)} "
                             f"steps an epoch at this batch, not epoch_steps {spec.epoch_steps}")
        return data, data
    data = TokenWindows(spec.data, spec.seq_len, spec.seed, 0.0 if spec.valid_data else spec.valid_fraction)
    return data, TokenWindows(spec.valid_data, spec.seq_len, spec.seed) if spec.valid_data else data


def on_device(batch, device) -> list[torch.Tensor | None]:
    return [None if t is None else t.to(device) for t in batch]


def forward_loss(engine, batch, spec: TrainSpec, seq: SequenceGroup | None) -> torch.Tensor:
    """The loss of a batch of whole rows: the mean, or with sequence parallelism this rank's share."""
    if seq is None:
        return engine(*batch)[1]
    args, kwargs = seq.part(*batch)
    return engine(*args, **kwargs, loss_chunk=spec.loss_chunk)[1]


def evaluate(engine, data, spec: TrainSpec, device, seq: SequenceGroup | None = None) -> float | None:
    """Mean loss per target token over the validation batches."""
    total, count = 0.0, 0
    engine.eval()
    with torch.no_grad():
        for batch in data.valid_batches(spec.micro_batch, spec.eval_batches, every_window=bool(spec.valid_data)):
            batch = on_device(batch, device)
            n = int((batch[1] != -100).sum())
            if n:
                loss = forward_loss(engine, batch, spec, seq)
                loss = loss if seq is None else seq.mean(loss)
                total, count = total + loss.float().item() * n, count + n
    engine.train()
    return total / count if count else None


def export_epoch(engine, spec: TrainSpec, epoch: int) -> Path:
    """Every rank: the epoch's weights gathered; rank 0 writes them as a Llama folder (complete once renamed)."""
    weights = gathered_state(engine, spec.zero_stage)
    out = epoch_folder(spec, epoch)
    if dist.get_rank() == 0:
        write_model(engine.module.cfg, weights, out, spec.tokenizer or None)
    dist.barrier()
    return out


def epoch_folder(spec: TrainSpec, epoch: int) -> Path:
    return Path(spec.checkpoints) / "epochs" / f"epoch-{epoch:03d}"


def write_model(cfg, weights: dict, out: Path, tokenizer: str | None) -> Path:
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    export_weights(cfg, weights, tmp, tokenizer)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def export_weights(cfg, weights: dict, folder: Path, tokenizer: str | None) -> Path:
    """A gathered state dict as a Llama folder (+ tokenizer files)."""
    model = Transformer(cfg)
    model.load_state_dict(weights)
    return export_hf(model, folder, tokenizer)


def start_rank(backend: str = "") -> tuple[int, int, torch.device]:
    """This process's rank, world size and device, with torch.distributed started (nccl on CUDA,
    gloo on CPU, unless `backend` says); DeepSpeed's JIT op loads guarded (zhinao/model/ds_ops.py)."""
    import deepspeed

    guard_jit_builds()
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    deepspeed.init_distributed(dist_backend=backend or ("nccl" if cuda else "gloo"))
    return rank, world, device


def train(spec: TrainSpec) -> dict:
    import deepspeed

    rank, world, device = start_rank(spec.backend)
    seq = SequenceGroup.start(spec.sp_size, spec.sp_backend) if spec.sp_size > 1 else None
    # the data-parallel view: a sequence-parallel group reads one set of rows
    dp_rank, dp_size = (seq.dp_rank, seq.dp_size) if seq else (rank, world)
    data, valid = open_data(spec, dp_size)
    config = deepspeed_config(spec, world)
    model = build_model(spec, config)
    schedule = spec.lr_schedule()
    engine, _, _, lr_sched = deepspeed.initialize(
        model=model, model_parameters=param_groups(model, spec.weight_decay), config=config,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s) / spec.max_lr))

    step, tokens = 0, 0
    resumed, state = checkpoint.resume(engine, spec.checkpoints)
    if resumed is not None:
        step, tokens = int(state["step"]), int(state["tokens"])
        if rank == 0:
            log.info("resumed from the checkpoint at step %d (%d tokens)", step, tokens)
    elif spec.init_state:
        carry_state(engine, lr_sched, spec.init_state)
    metrics = MetricsLog(Path(spec.checkpoints) / "metrics.jsonl", resume_step=resumed) if rank == 0 else None
    peak, peak_source = device_peak_flops(device) if spec.peak_flops <= 0 else (spec.peak_flops, "stated")
    per_token = flops_per_token(engine.module.cfg, spec.seq_len)
    per_step = spec.tokens_per_step(world)
    kill_at = int(os.environ.get(KILL_AT_STEP, 0)) if resumed is None else 0
    last_time, last_tokens, started = time.perf_counter(), tokens, time.perf_counter()
    mem_start = memory.reset_peak(device)

    engine.train()
    while step < spec.steps:
        lr = lr_sched.optimizer.param_groups[0]["lr"]     # the LR this step applies
        total = torch.zeros((), device=device)
        for micro in range(spec.grad_accum):
            batch = on_device(data.batch(step * spec.grad_accum + micro, spec.micro_batch, dp_rank, dp_size), device)
            loss = forward_loss(engine, batch, spec, seq)
            engine.backward(loss)
            if micro == spec.grad_accum - 1 and spec.zero_stage == 0:
                norm = local_grad_norm(engine)
            engine.step()
            total += loss.detach().float()
        if spec.zero_stage > 0:
            norm = float(engine.get_global_grad_norm())
        dist.all_reduce(total)
        step, tokens = step + 1, tokens + per_step
        row = {"step": step, "loss": total.item() / (spec.grad_accum * world), "lr": lr, "grad_norm": norm,
               "tokens": tokens}
        if step % spec.log_every == 0 or step == spec.steps:
            now = time.perf_counter()
            tps = (tokens - last_tokens) / max(now - last_time, 1e-9)
            row |= {"tokens_per_s": tps, "mfu": per_token * tps / (peak * world) if peak else None,
                    "elapsed_s": now - started}
            last_time, last_tokens = now, tokens
        epoch_end = bool(spec.epoch_steps) and step % spec.epoch_steps == 0
        if (spec.eval_every and step % spec.eval_every == 0) or step == spec.steps or epoch_end:
            row["valid_loss"] = evaluate(engine, valid, spec, device, seq)
        if epoch_end:
            row["epoch"] = step // spec.epoch_steps
        if metrics is not None:
            metrics.write(row)
        if epoch_end:           # before the checkpoint: a checkpoint at an epoch's end implies its folder
            export_epoch(engine, spec, step // spec.epoch_steps)
        if step % spec.checkpoint_every == 0 or step == spec.steps or epoch_end:
            checkpoint.save(engine, spec.checkpoints, step, {"step": step, "tokens": tokens}, spec.keep_checkpoints)
        if kill_at and step == kill_at and rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    mem = _largest_rank([mem_start, memory.peak(device)], device)
    weights = None if spec.epoch_steps else gathered_state(engine, spec.zero_stage)   # epochs: exported already
    summary = {}
    if rank == 0:
        summary = finish(spec, engine.module.cfg, weights, world, resumed, peak, peak_source, mem)
    dist.barrier()
    return summary


def _largest_rank(values: list[float | None], device) -> dict[str, float | None]:
    """The memory at the first step and the peak above it, of the rank whose peak is largest."""
    start, top = values
    above = torch.tensor([-1.0 if start is None or top is None else top - start, start or 0.0], device=device)
    gathered = [torch.zeros_like(above) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, above)
    most = max(gathered, key=lambda t: float(t[0]))
    return {"peak_mem_above_start_mib": float(most[0]) if float(most[0]) >= 0 else None,
            "mem_at_start_mib": float(most[1]) if float(most[0]) >= 0 else None}


def finish(spec: TrainSpec, cfg, weights: dict, world: int, resumed: int | None, peak: float, peak_source: str,
           mem: dict | None = None) -> dict:
    """Rank 0: the finished model as a Llama folder (+ tokenizer), with metrics and the run summary;
    written to a temporary name and renamed, so `out` exists only complete. An epoch run's `out`
    has no weights: its models are the epochs' folders, which the summary lists."""
    out = Path(spec.out)
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    if weights is not None:
        export_weights(cfg, weights, tmp, spec.tokenizer or None)
    tmp.mkdir(parents=True, exist_ok=True)
    rows = read_metrics(Path(spec.checkpoints) / "metrics.jsonl")
    shutil.copyfile(Path(spec.checkpoints) / "metrics.jsonl", tmp / "metrics.jsonl")
    last = rows[-1]
    summary = {"steps": spec.steps, "tokens": last["tokens"], "world_size": world, "zero_stage": spec.zero_stage,
               "precision": "bf16" if use_bf16(spec) else "fp32", "params": cfg.num_params(),
               "first_loss": rows[0]["loss"], "final_loss": last["loss"], "valid_loss": last.get("valid_loss"),
               "final_lr": spec.lr_schedule().final_lr, "resumed_from_step": resumed,
               "peak_flops_per_rank": peak, "peak_source": peak_source,
               "mean_tokens_per_s": _mean([r.get("tokens_per_s") for r in rows[1:]]),
               "mean_mfu": _mean([r.get("mfu") for r in rows[1:]]), "optimizer_from": spec.init_state or "fresh",
               "sp_size": spec.sp_size, **(mem or {})}
    if spec.epoch_steps:
        summary["epochs"] = [{"epoch": r["epoch"], "step": r["step"], "valid_loss": r.get("valid_loss"),
                              "model": str(epoch_folder(spec, r["epoch"]))} for r in rows if "epoch" in r]
    if spec.keep_optimizer_state:       # the final checkpoint: what a following stage continues from
        final = checkpoint.tag(spec.steps)
        shutil.copytree(Path(spec.checkpoints) / final, tmp / "deepspeed" / final)
    (tmp / "trainer_state.json").write_text(json.dumps(summary, indent=2))
    spec.save(tmp / "train_spec.json")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return summary


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def rank_main(argv: list[str] | None, module: str, load: Callable[[str], Any],
              inputs: Callable[[Any], dict[str, str]], run: Callable[[Any], Any]) -> int:
    """The command line of a rank module (`python -m MODULE SPEC.json`): the spec and the inputs it
    names must be visible on this node, then `run(spec)`, then leave the process group."""
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(f"usage: python -m {module} SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s rank" + os.environ.get("RANK", "0")
                        + " %(levelname)s %(message)s")
    die_with_driver()
    require_visible({"the run spec": args[0]})
    spec = load(args[0])
    require_visible(inputs(spec))
    try:
        run(spec)
    except Exception as e:
        if getattr(e, "retryable", None) is not False:
            raise
        logging.getLogger("zhinao.train").exception("stopping: %s", e)
        return FINAL_EXIT
    if dist.is_initialized():
        dist.destroy_process_group()
    if getattr(spec, "sp_size", 1) > 1 and getattr(spec, "sp_backend", "") == "ulysses":
        # after gloo's all-to-all a C++ static destructor sometimes aborts at interpreter exit, when
        # all the work is done: leave without running them, so a finished rank reports success
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def main(argv: list[str] | None = None) -> int:
    return rank_main(argv, "zhinao.model.train", TrainSpec.load, lambda spec: {
        "the token shards": spec.data, "the validation shards": spec.valid_data, "the init model": spec.init_from,
        "the tokenizer": spec.tokenizer, "the checkpoint folder": spec.checkpoints}, train)


if __name__ == "__main__":
    sys.exit(main())
