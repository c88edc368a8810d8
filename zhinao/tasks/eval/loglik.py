"""Log-likelihoods computed by the model in process (transformers), batched.

Only what the scores need is computed: the model's body runs over the inputs, and the output
head (and the log-softmax over the vocabulary) only at the positions that predict a continuation
token, a chunk of positions at a time; lm-eval computes the full-vocabulary logits of every
position, padding included. Rolling windows of documents are packed: the windows of a batch run
as one row, positions restarting at each window and attention kept within it (packed.py), so the
projections, MLPs and head see no padding. Other inputs are sorted by length and batched with
inputs of about their own length, so there is little padding, and none at all (no attention mask)
when lengths are equal.

Requests with the same input (one-token continuations after one context: the letters of a
multiple-choice question) share one forward pass, as lm-eval's one-token cache does; the tokens all
inputs of a call start with (the subject header and few-shot examples) run once, and their KV cache
is reused by every batch, which lm-eval recomputes for every question.
Batch-size independence: inputs are right-padded and each row's scores read only its own positions
under a causal mask, and a packed window attends only to itself, so the padding and the other
inputs of a batch cannot reach them."""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

from tqdm import tqdm

from .packed import can_pack, packed_attention
from .scoring import LoglikScorer, Scored, load_tokenizer

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("torch", "transformers", "tokenizers")}

log = logging.getLogger("zhinao.eval")


class LoglikModel(LoglikScorer):
    """A causal LM for scoring (an HF folder: our exported models, SmolLM2, any Llama-like)."""

    HEAD_CHUNK = 1024       # positions per head matmul: (1024 x vocab) float32 logits at a time
    MIN_SHARED = 32         # below this a shared prefix saves less than copying its cache costs
    PAD_SHARE = 7 / 8       # a batch's shortest input is at least this share of its longest

    def __init__(self, model_path: str | Path, device: str = "auto", dtype: str = "float32",
                 max_length: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM

        from ..generate.hf import pick_device

        self.path = str(model_path)
        self.device = pick_device(device)
        self.tok = load_tokenizer(self.path)
        dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=dtypes[dtype]).to(self.device).eval()
        cfg = self.model.config
        self.max_length = max_length or int(getattr(cfg, "max_position_embeddings", 2048) or 2048)
        self.body, self.head = self._split_head()
        self.packs = can_pack(self.model, self.body)

    def _split_head(self):
        """(body, head) where the logits are head(body's last hidden state), as in Llama-like models,
        checked on a probe; else (the whole model, None): logits of every position, as before."""
        import torch

        try:
            body, head = self.model.get_decoder(), self.model.get_output_embeddings()
        except (AttributeError, NotImplementedError):
            body = head = None
        if body is None or head is None or body is self.model:
            return self.model, None
        probe = torch.tensor([[self.prefix_id] + self.encode("The probe of a model's output head.")],
                             device=self.device)
        with torch.inference_mode():
            want = self.model(input_ids=probe).logits
            got = head(body(input_ids=probe).last_hidden_state)
        if want.shape == got.shape and torch.allclose(want.float(), got.float(), atol=1e-4, rtol=1e-4):
            return body, head
        log.info("%s: logits are not head(hidden states) (a soft cap or scale?): scoring from full logits",
                 self.path)
        return self.model, None

    def _states(self, ids, mask, **kwargs):
        """Hidden states (or logits, without a separate head) of every input position."""
        import torch

        with torch.inference_mode():
            out = self.body(input_ids=ids.to(self.device), attention_mask=None if mask is None else
                            mask.to(self.device), **kwargs)
        return out.last_hidden_state if self.head is not None else out.logits

    def _target_logprobs(self, states, targets: list[int], greedy: bool = True):
        """(log-probability of each target, whether it is the argmax, or None without `greedy`) from
        the states predicting it: the head and a float32 log-softmax (as lm-eval's) over the
        vocabulary, a chunk at a time."""
        import torch

        targets = torch.tensor(targets, device=states.device)
        lps, hits = [], []
        with torch.inference_mode():
            for s in range(0, len(targets), self.HEAD_CHUNK):
                x, t = states[s:s + self.HEAD_CHUNK], targets[s:s + self.HEAD_CHUNK, None]
                logits = (self.head(x) if self.head is not None else x).float()
                if greedy:
                    hits.append(logits.argmax(-1) == t[:, 0])
                lps.append(logits.log_softmax(-1).gather(1, t)[:, 0])
        return torch.cat(lps).double().cpu(), torch.cat(hits).cpu() if greedy else None

    def _batches(self, order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
        """Consecutive runs of `order` (longest first): at most batch_size, little padding."""
        out: list[list[int]] = []
        for k in order:
            if out and len(out[-1]) < batch_size and lengths[k] >= self.PAD_SHARE * lengths[out[-1][0]]:
                out[-1].append(k)
            else:
                out.append([k])
        return out

    def _padded(self, seqs: list[tuple], prefix: int = 0):
        """(ids, mask) right-padded; mask None when every row has the same length (none needed)."""
        import torch

        width = max(len(s) for s in seqs)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        for j, s in enumerate(seqs):
            ids[j, :len(s)] = torch.tensor(s)
        if all(len(s) == width for s in seqs):
            return ids, None
        mask = torch.zeros((len(seqs), prefix + width), dtype=torch.long)
        mask[:, :prefix] = 1
        for j, s in enumerate(seqs):
            mask[j, prefix:prefix + len(s)] = 1
        return ids, mask

    def score_tokens(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                     desc: str = "loglikelihood") -> list[Scored]:
        """Score (context ids, continuation ids) pairs."""
        import torch

        rows = self.truncated(encoded)
        # requests with the same input (the choices " A" ... " D" after one question) share a forward
        inputs = list(dict.fromkeys(r[0] for r in rows))
        users: dict[tuple, list[int]] = {}
        for i, r in enumerate(rows):
            users.setdefault(r[0], []).append(i)
        # the tokens every input starts with (a few-shot header and examples) run once, kept as a
        # KV cache; each input then runs only its own tokens. Capped so every predicted position
        # lies after it.
        shared = self._shared_prefix(inputs, min(len(r[0]) - len(r[1]) for r in rows))
        cache = self._prefix_cache(shared)
        order = sorted(range(len(inputs)), key=lambda k: (-len(inputs[k]), k))
        out: list[Scored | None] = [None] * len(rows)
        bar = tqdm(total=len(rows), desc=desc, unit="req", disable=None, leave=False)
        for batch in self._batches(order, [len(x) for x in inputs], batch_size):
            chunk = [inputs[k] for k in batch]
            own = [seq[len(shared):] for seq in chunk]
            ids, mask = self._padded(own, len(shared))
            kwargs = {}
            if cache is not None:
                past = copy.deepcopy(cache)
                past.batch_repeat_interleave(len(chunk))
                kwargs = {"cache": past, "use_cache": True}
            states = self._states(ids, mask, **kwargs)
            picks, targets, spans = [], [], []
            for j, seq in enumerate(own):
                for i in users[chunk[j]]:
                    n = len(rows[i][1])
                    picks.append(states[j, len(seq) - n:len(seq)])
                    targets += rows[i][1]
                    spans.append((i, n))
            lp, hit = self._target_logprobs(torch.cat(picks), targets)
            k = 0
            for i, n in spans:
                out[i] = Scored(float(lp[k:k + n].sum()), bool(hit[k:k + n].all()), n)
                k += n
            bar.update(len(spans))
        bar.close()
        return out  # type: ignore[return-value]

    @classmethod
    def _shared_prefix(cls, inputs: list[tuple], cap: int) -> tuple:
        if len(inputs) < 2:
            return ()
        first, n = inputs[0], min(cap, min(len(x) for x in inputs))
        k = 0
        while k < n and all(x[k] == first[k] for x in inputs):
            k += 1
        return first[:k] if k >= cls.MIN_SHARED else ()

    def _prefix_cache(self, shared: tuple):
        if not shared:
            return None
        import torch

        with torch.inference_mode():
            return self.body(input_ids=torch.tensor([shared], device=self.device), use_cache=True).cache

    def per_token(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                  desc: str = "loglikelihood") -> list[list[float]]:
        import torch

        rows = self.truncated(encoded)
        order = sorted(range(len(rows)), key=lambda k: (-len(rows[k][0]), k))
        # packed: batch_size windows a forward, longest first (their attention is padded to the
        # longest of the pack, so packs of like lengths pad least); else batches of like lengths
        batches = ([order[s:s + batch_size] for s in range(0, len(order), batch_size)] if self.packs else
                   self._batches(order, [len(r[0]) for r in rows], batch_size))
        out: list[list[float]] = [[] for _ in rows]
        bar = tqdm(total=len(rows), desc=desc, unit="window", disable=None, leave=False)
        for batch in batches:
            if self.packs:      # one row: [window 1][window 2]...; each its own positions from 0
                ids = torch.tensor([[t for k in batch for t in rows[k][0]]])
                pos = torch.tensor([[i for k in batch for i in range(len(rows[k][0]))]], device=self.device)
                with packed_attention(self.model):
                    flat = self._states(ids, None, position_ids=pos)[0]
                starts = [0]
                for k in batch:
                    starts.append(starts[-1] + len(rows[k][0]))
                picks = [flat[a + len(rows[k][0]) - len(rows[k][1]):a + len(rows[k][0])]
                         for a, k in zip(starts, batch)]
            else:
                ids, mask = self._padded([rows[k][0] for k in batch])
                states = self._states(ids, mask)
                picks = [states[j, len(rows[k][0]) - len(rows[k][1]):len(rows[k][0])] for j, k in enumerate(batch)]
            lp, _ = self._target_logprobs(torch.cat(picks), [t for k in batch for t in rows[k][1]], greedy=False)
            at = 0
            for k in batch:
                out[k] = lp[at:at + len(rows[k][1])].tolist()
                at += len(rows[k][1])
            bar.update(len(batch))
        bar.close()
        return out
