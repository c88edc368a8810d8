"""Batched log-likelihood of continuations, scored as lm-evaluation-harness scores them: the
context's trailing spaces move to the continuation, the continuation's tokens are those of
encode(context + continuation) after encode(context), and a request is the sum of the
continuation tokens' log-probabilities plus whether greedy decoding would have produced them.

Requests with the same input (one-token continuations after one context: the letters of a
multiple-choice question) share one forward pass, as lm-eval's one-token cache does; the tokens all
inputs of a call start with (the subject header and few-shot examples) run once, and their KV cache
is reused by every batch, which lm-eval recomputes for every question.
Batch-size independence: inputs are grouped by length (longest first), right-padded, and each row's
scores read only its own positions under a causal mask, so the padding and the other rows of a
batch cannot reach them; log-softmax runs in float64."""
from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

# inputs from outside the repository that shape output (tasks/store/external.py)
EXTERNAL = {"libraries": ("torch", "transformers", "tokenizers")}

log = logging.getLogger("zhinao.eval")


@dataclass(frozen=True)
class Scored:
    logprob: float          # sum over the continuation's tokens
    greedy: bool            # every continuation token is the argmax
    tokens: int             # continuation tokens


class LoglikModel:
    """A causal LM for scoring (an HF folder: our exported models, SmolLM2, any Llama-like)."""

    def __init__(self, model_path: str | Path, device: str = "auto", dtype: str = "float32",
                 max_length: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..generate.hf import pick_device

        self.path = str(model_path)
        self.device = pick_device(device)
        self.tok = AutoTokenizer.from_pretrained(self.path)
        dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=dtypes[dtype]).to(self.device).eval()
        cfg = self.model.config
        self.max_length = max_length or int(getattr(cfg, "max_position_embeddings", 2048) or 2048)
        # lm-eval's prefix for an empty context: the end-of-text token
        self.prefix_id = self.tok.bos_token_id if self.tok.bos_token_id is not None else self.tok.eos_token_id

    def encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        whole = self.encode(context + continuation)
        ctx = self.encode(context) if context else []
        cont = whole[len(ctx):]
        if not context:
            ctx = [self.prefix_id]
        return ctx, cont

    def loglikelihood(self, pairs: list[tuple[str, str]], batch_size: int = 8, desc: str = "loglikelihood") -> list[Scored]:
        encoded = [self.encode_pair(c, x) for c, x in pairs]
        return self.score_tokens(encoded, batch_size, desc)

    def score_tokens(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                     desc: str = "loglikelihood") -> list[Scored]:
        """Score (context ids, continuation ids) pairs; the input is cut to the model's window from
        the left, as lm-eval does."""
        import torch

        rows = []
        for ctx, cont in encoded:
            if not cont:
                raise ValueError("an empty continuation has no log-likelihood")
            full = (ctx + cont)[-(self.max_length + 1):]
            rows.append((tuple(full[:-1]), tuple(full[len(full) - len(cont):])))
        # requests with the same input (the choices " A" ... " D" after one question) share a forward
        inputs = list(dict.fromkeys(r[0] for r in rows))
        users: dict[tuple, list[int]] = {}
        for i, r in enumerate(rows):
            users.setdefault(r[0], []).append(i)
        order = sorted(range(len(inputs)), key=lambda k: (-len(inputs[k]), k))
        # the tokens every input starts with (a few-shot header and examples) run once, kept as a
        # KV cache; each input then runs only its own tokens. Capped so every predicted position
        # lies after it.
        shared = self._shared_prefix(inputs, min(len(r[0]) - len(r[1]) for r in rows))
        cache = self._prefix_cache(shared)
        out: list[Scored | None] = [None] * len(rows)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        bar = tqdm(total=len(rows), desc=desc, unit="req", disable=None, leave=False)
        for start in range(0, len(order), batch_size):
            chunk = [inputs[k] for k in order[start:start + batch_size]]
            own = [seq[len(shared):] for seq in chunk]
            width = max(len(seq) for seq in own)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), len(shared) + width), dtype=torch.long)
            mask[:, :len(shared)] = 1
            for j, seq in enumerate(own):
                ids[j, :len(seq)] = torch.tensor(seq)
                mask[j, len(shared):len(shared) + len(seq)] = 1
            kwargs = {}
            if cache is not None:
                past = copy.deepcopy(cache)
                past.batch_repeat_interleave(len(chunk))
                kwargs = {"cache": past, "use_cache": True}
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs).logits
            for j, seq in enumerate(chunk):
                end = len(seq) - len(shared)            # this row's last position, in its own tokens
                for i in users[seq]:
                    n = len(rows[i][1])
                    targets = torch.tensor(rows[i][1], device=logits.device)
                    span = logits[j, end - n:end].double().log_softmax(-1)
                    picked = span.gather(1, targets[:, None]).squeeze(1)
                    out[i] = Scored(float(picked.sum()), bool((span.argmax(-1) == targets).all()), n)
                bar.update(len(users[seq]))
        bar.close()
        return out  # type: ignore[return-value]

    MIN_SHARED = 32      # below this a shared prefix saves less than copying its cache costs

    @staticmethod
    def _shared_prefix(inputs: list[tuple], cap: int) -> tuple:
        if len(inputs) < 2:
            return ()
        first, n = inputs[0], min(cap, min(len(x) for x in inputs))
        k = 0
        while k < n and all(x[k] == first[k] for x in inputs):
            k += 1
        return first[:k] if k >= LoglikModel.MIN_SHARED else ()

    def _prefix_cache(self, shared: tuple):
        if not shared:
            return None
        import torch

        with torch.inference_mode():
            return self.model(input_ids=torch.tensor([shared], device=self.device), use_cache=True).cache

    def rolling_logprobs(self, docs: list[list[int]], batch_size: int = 8, window: int | None = None,
                         desc: str = "rolling loglikelihood") -> list[list[float]]:
        """Log-probability of every token of each document, by disjoint windows of predicted tokens
        with inputs of the model's length (the first starts from the prefix token): lm-eval's rolling
        loglikelihood. Windows of all documents are batched together."""
        window = min(window or self.max_length, self.max_length)
        pieces, owner = [], []
        for d, ids in enumerate(docs):
            for s in range(0, len(ids), window):
                end = min(s + window, len(ids))
                # a window sees `window` tokens: a short last one takes more of the text before it
                pieces.append(([self.prefix_id] if s == 0 else ids[end - window - 1:s], ids[s:end]))
                owner.append(d)
        scored = self._per_token(pieces, batch_size, desc)
        out: list[list[float]] = [[] for _ in docs]
        for d, lps in zip(owner, scored):
            out[d].extend(lps)
        return out

    def _per_token(self, encoded: list[tuple[list[int], list[int]]], batch_size: int, desc: str) -> list[list[float]]:
        import torch

        out = []
        bar = tqdm(total=len(encoded), desc=desc, unit="window", disable=None, leave=False)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start:start + batch_size]
            seqs = [ctx + cont for ctx, cont in chunk]
            width = max(len(s) for s in seqs) - 1
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for j, s in enumerate(seqs):
                ids[j, :len(s) - 1] = torch.tensor(s[:-1])
                mask[j, :len(s) - 1] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            for j, (ctx, cont) in enumerate(chunk):
                s = seqs[j]
                lp = logits[j, len(ctx) - 1:len(s) - 1].double().log_softmax(-1)
                out.append(lp.gather(1, torch.tensor(cont, device=lp.device)[:, None]).squeeze(1).tolist())
            bar.update(len(chunk))
        bar.close()
        return out
