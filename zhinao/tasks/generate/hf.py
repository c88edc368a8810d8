"""The transformers backend: batched generation in process, with the model's chat template."""
from __future__ import annotations

import hashlib
import logging
import os
from itertools import groupby

from .api import Completion, Request, Sampling

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("transformers", "torch", "gguf")}

log = logging.getLogger("zhinao.generate")


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformersGenerator:
    def __init__(self, model_path: str, device: str = "auto", batch_size: int = 8, dtype: str = "auto"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = f"transformers:{os.path.basename(model_path.rstrip('/'))}"
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.tok = AutoTokenizer.from_pretrained(model_path)
        self.tok.padding_side = "left"          # decoder-only: pad on the left for batched generation
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        torch_dtype = {"auto": torch.bfloat16 if self.device == "cuda" else torch.float32,
                       "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype).to(self.device).eval()
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tok.eos_token_id}
        self.eos_ids.discard(None)

    def prompt_text(self, req: Request) -> str:
        messages = [{"role": r, "content": c} for r, c in req.messages]
        if self.tok.chat_template:
            text = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:  # a base model: plain concatenation
            text = "\n\n".join(c for _, c in req.messages) + "\n\n"
        return text + req.prefill

    def generate(self, requests: list[Request]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(requests)
        order = sorted(range(len(requests)), key=lambda i: _group_key(requests[i].sampling))
        for _, members in groupby(order, key=lambda i: _group_key(requests[i].sampling)):
            members = list(members)
            for start in range(0, len(members), self.batch_size):
                chunk = members[start:start + self.batch_size]
                try:
                    done = self._generate([requests[i] for i in chunk])
                except Exception as e:  # noqa: BLE001 - one bad batch must not sink the others
                    if len(chunk) == 1:
                        log.warning("generation failed: %s", e)
                        done = [Completion("", "error", error=f"{type(e).__name__}: {e}")]
                    else:  # retry one by one to isolate the request that fails
                        done = [c for i in chunk for c in self.generate([requests[i]])]
                for i, c in zip(chunk, done):
                    out[i] = c
        return out  # type: ignore[return-value]

    def _generate(self, reqs: list[Request]) -> list[Completion]:
        import torch

        s = reqs[0].sampling
        prompts = [self.prompt_text(r) for r in reqs]
        enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        # one RNG stream per batch, seeded from the requests' seeds: reruns of a batch repeat it
        torch.manual_seed(_batch_seed(reqs))
        sample = s.temperature > 0
        with torch.inference_mode():
            gen = self.model.generate(
                **enc, max_new_tokens=s.max_tokens, do_sample=sample, pad_token_id=self.tok.pad_token_id,
                **({"temperature": s.temperature, "top_p": s.top_p} if sample else {}))
        new = gen[:, enc["input_ids"].shape[1]:]
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        completions = []
        for r, row, plen in zip(reqs, new.tolist(), prompt_lens):
            n, finished = len(row), False
            for k, t in enumerate(row):
                if t in self.eos_ids:
                    n, finished = k, True
                    break
            text = self.tok.decode(row[:n], skip_special_tokens=True)
            text, stopped = _cut_at_stop(text, r.sampling.stop)
            completions.append(Completion(r.prefill + text, "stop" if finished or stopped else "length",
                                          prompt_tokens=int(plen), completion_tokens=n))
        return completions


def _group_key(s: Sampling) -> tuple:
    return (s.max_tokens, s.temperature, s.top_p)


def _batch_seed(reqs: list[Request]) -> int:
    h = hashlib.sha256(repr([r.sampling.seed for r in reqs]).encode()).digest()
    return int.from_bytes(h[:4], "little")


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[:min(cuts)], True) if cuts else (text, False)
