"""One alignment run: `python -m zhinao.tasks.align.rank SPEC.json`, started by zhinao/model/launch.py like a
pretraining rank. TRL does the method (DPOTrainer; GRPOTrainer; ReMaxTrainer, GRPO with the greedy
baseline); this module gives it the rows, the reward functions and the schedule of the spec, writes
one metrics line per step (the pipeline's format: step, loss, lr, grad_norm, and the method's own
figures), checkpoints every `checkpoint_every` steps and resumes from the newest checkpoint: the
HF Trainer's checkpoint holds the weights, optimizer, scheduler, the step, and every RNG (python,
numpy, torch), so the resumed run sees the same batches and samples the same rollouts. On CPU,
TRL's fused LM head is made to project only the answer tokens, as it does on CUDA (lm_head.py).
At the end the model (or the LoRA adapter) and a run summary go to `out`."""
from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import torch

from zhinao.model.metrics import MetricsLog, read_metrics
from zhinao.model.train import KILL_AT_STEP, rank_main

from .lm_head import compact_on_cpu
from .methods import method
from .spec import AlignSpec

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("trl", "transformers", "peft", "torch", "accelerate", "datasets")}

log = logging.getLogger("zhinao.align")
# the method's figures kept in the metrics lines (TRL's names), beside loss, lr and grad_norm
KEPT = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen",
        "logps/rejected", "reward", "reward_std", "kl", "completions/mean_length", "remax/greedy_reward",
        "frac_reward_zero_std")


def _callbacks(metrics: MetricsLog, resumed: bool):
    from transformers import TrainerCallback

    kill_at = 0 if resumed else int(os.environ.get(KILL_AT_STEP, 0))

    class Lines(TrainerCallback):
        started = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            row = {"step": state.global_step, "loss": float(logs["loss"]), "lr": float(logs.get("learning_rate", 0.0)),
                   "grad_norm": float(logs.get("grad_norm", float("nan")))}
            for k, v in logs.items():          # KEPT, and each reward function's mean (GRPO, ReMax)
                if (k in KEPT or k.startswith("rewards/") and k.endswith("/mean")) and isinstance(v, (int, float)):
                    row[k.replace("/", "_")] = float(v)     # (a function that applied to no answer logs None)
            row["elapsed_s"] = time.perf_counter() - self.started
            metrics.write(row)
            if kill_at and state.global_step == kill_at:          # fault injection (resume tests)
                os.kill(os.getpid(), signal.SIGKILL)

        def on_step_end(self, args, state, control, **kwargs):
            # HF checkpoints the last step too; the final model is saved right after training, and
            # weights + optimizer state of a 135M model are ~1.6 GB of writes for nothing
            if state.global_step >= state.max_steps:
                control.should_save = False
            return control

    return [Lines()]


def _common(spec: AlignSpec) -> dict:
    cuda = torch.cuda.is_available()
    return dict(output_dir=spec.checkpoints, max_steps=spec.steps, per_device_train_batch_size=spec.batch_size,
                gradient_accumulation_steps=spec.grad_accum, learning_rate=spec.lr, lr_scheduler_type="cosine",
                warmup_steps=spec.warmup_steps, weight_decay=spec.weight_decay, logging_steps=1,
                save_strategy="steps", save_steps=spec.checkpoint_every, save_total_limit=spec.keep_checkpoints,
                report_to=[], seed=spec.seed, data_seed=spec.seed, use_cpu=not cuda,
                bf16=spec.precision == "bf16", disable_tqdm=True, dataloader_num_workers=0, beta=spec.beta)


def _lora(spec: AlignSpec):
    if not spec.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=int(spec.lora["r"]), lora_alpha=int(spec.lora["alpha"]),
                      lora_dropout=float(spec.lora.get("dropout", 0.0)), task_type="CAUSAL_LM",
                      target_modules=spec.lora.get("target_modules") or "all-linear")


def _model_kwargs(spec: AlignSpec) -> dict:
    if not spec.quantize:
        return {"dtype": torch.bfloat16 if spec.precision == "bf16" else torch.float32}
    if not torch.cuda.is_available():
        raise RuntimeError("quantize (QLoRA) needs CUDA and bitsandbytes; on CPU train plain LoRA (quantize=false)")
    from transformers import BitsAndBytesConfig

    return {"dtype": torch.bfloat16, "quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True)}


def build_trainer(spec: AlignSpec, rows: list[dict], callbacks: list, reward_funcs: list | None = None):
    """TRL's trainer for the spec, by its method's entry (methods.py); `reward_funcs` (RL) replaces
    the spec's reward sources (tests)."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    compact_on_cpu()
    tok = AutoTokenizer.from_pretrained(spec.model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    module, function = method(spec.method).trainer.split(":")
    make = getattr(importlib.import_module(module), function)
    return make(spec, tok, Dataset.from_list(rows), callbacks, reward_funcs)


def dpo_trainer(spec: AlignSpec, tok, data, callbacks: list, reward_funcs: list | None):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**_common(spec), max_length=spec.max_length, loss_type=[spec.loss_type],
                     model_init_kwargs=_model_kwargs(spec))
    ref = spec.ref_model if spec.ref_model and spec.ref_model != spec.model else None
    if ref is not None:
        from transformers import AutoModelForCausalLM

        ref = AutoModelForCausalLM.from_pretrained(ref, **_model_kwargs(spec) | {"quantization_config": None})
    return DPOTrainer(model=spec.model, ref_model=ref, args=args, train_dataset=data, processing_class=tok,
                      callbacks=callbacks, peft_config=_lora(spec))


def grpo_trainer(spec: AlignSpec, tok, data, callbacks: list, reward_funcs: list | None, cls=None):
    from trl import GRPOConfig, GRPOTrainer

    from .rewards import reward_functions

    funcs, weights = (reward_funcs, [1.0] * len(reward_funcs)) if reward_funcs else \
        reward_functions(spec.rewards, spec.reward_model)
    args = GRPOConfig(**_common(spec), num_generations=spec.num_generations,
                      max_completion_length=spec.max_completion_length, temperature=spec.temperature,
                      scale_rewards=spec.scale_rewards, loss_type=spec.loss_type, reward_weights=weights,
                      use_vllm=spec.use_vllm, vllm_mode="colocate", model_init_kwargs=_model_kwargs(spec))
    return (cls or GRPOTrainer)(model=spec.model, reward_funcs=funcs, args=args, train_dataset=data,
                                processing_class=tok, callbacks=callbacks, peft_config=_lora(spec))


def remax_trainer(spec: AlignSpec, tok, data, callbacks: list, reward_funcs: list | None):
    """GRPO's rollouts and update with the greedy answer's reward as the baseline (remax.py)."""
    from .remax import ReMaxTrainer

    return grpo_trainer(spec, tok, data, callbacks, reward_funcs, cls=ReMaxTrainer)


def train(spec: AlignSpec) -> None:
    import pyarrow.parquet as pq
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints, out = Path(spec.checkpoints), Path(spec.out)
    checkpoints.mkdir(parents=True, exist_ok=True)
    resume = get_last_checkpoint(str(checkpoints))
    resumed_at = json.loads((Path(resume) / "trainer_state.json").read_text())["global_step"] if resume else None
    metrics = MetricsLog(checkpoints / "metrics.jsonl", resume_step=resumed_at)
    if resume:
        log.info("%s: resuming from %s (step %d)", spec.method, resume, resumed_at)
    rows = pq.read_table(spec.data).to_pylist()
    trainer = build_trainer(spec, rows, _callbacks(metrics, resumed=resume is not None))
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    tmp = out.with_name(out.name + ".part")
    if tmp.exists():
        shutil.rmtree(tmp)
    trainer.save_model(str(tmp))                      # the full model, or (LoRA) the adapter
    trainer.processing_class.save_pretrained(str(tmp))
    (tmp / "training_args.bin").unlink(missing_ok=True)   # a pickle of this run's paths, not the model
    lines = read_metrics(checkpoints / "metrics.jsonl")
    (tmp / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    summary = {"method": spec.method, "steps": spec.steps, "first_loss": lines[0]["loss"] if lines else None,
               "final_loss": lines[-1]["loss"] if lines else None, "train_seconds": round(seconds, 3),
               "resumed_from_step": resumed_at, "samples": spec.steps * spec.batch_size * spec.grad_accum,
               "train_loss": float(result.training_loss), "adapter": bool(spec.lora)}
    summary["samples_per_s"] = summary["samples"] / seconds if seconds and not resumed_at else None
    for k in ("rewards_margins", "rewards_accuracies", "reward", "remax_greedy_reward"):
        if lines and k in lines[-1]:
            summary[f"final_{k}"] = lines[-1][k]
    (tmp / "trainer_state.json").write_text(json.dumps(summary, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    return rank_main(argv, "zhinao.tasks.align.rank", AlignSpec.load, lambda spec: {
        "the model": spec.model, "the training rows": spec.data, "the checkpoint folder": spec.checkpoints}, train)


if __name__ == "__main__":
    raise SystemExit(main())
