"""What a log-likelihood request is, whatever computes it: continuations scored as
lm-evaluation-harness scores them (the context's trailing spaces move to the continuation, the
continuation's tokens are those of encode(context + continuation) after encode(context), inputs cut
to the model's window from the left), and lm-eval's rolling windows for whole documents.

Two backends fill in the numbers: the model in process (loglik.LoglikModel) and a vLLM server's
prompt logprobs (served_loglik.ServedLoglik). Both tokenize here, with the model's own tokenizer,
so they score the same tokens."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("tokenizers", "transformers")}


@dataclass(frozen=True)
class Scored:
    logprob: float          # sum over the continuation's tokens
    greedy: bool            # every continuation token is the argmax
    tokens: int             # continuation tokens


def load_tokenizer(model_path: str | Path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    path = Path(model_path).expanduser()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"log-likelihood tasks tokenize with the model's own tokenizer: {model_path} is "
                                "not a model folder (name the model by its folder or model version, also with "
                                "endpoint=)")
    return AutoTokenizer.from_pretrained(str(path))


class LoglikScorer:
    """The request side. A backend sets `tok`, `max_length` (tokens a forward may take) and implements
    `score_tokens` (sums and greedy flags) and `per_token` (every continuation token's log-prob)."""

    tok = None
    max_length: int = 2048

    @property
    def prefix_id(self) -> int:
        # lm-eval's prefix for an empty context: the beginning- (else end-) of-text token
        return self.tok.bos_token_id if self.tok.bos_token_id is not None else self.tok.eos_token_id

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

    def loglikelihood(self, pairs: list[tuple[str, str]], batch_size: int = 8,
                      desc: str = "loglikelihood") -> list[Scored]:
        encoded = [self.encode_pair(c, x) for c, x in pairs]
        return self.score_tokens(encoded, batch_size, desc)

    def truncated(self, encoded: list[tuple[list[int], list[int]]]) -> list[tuple[tuple, tuple]]:
        """(input ids, continuation ids) per request: the input is context + continuation less its
        last token, cut to the model's window from the left, as lm-eval does."""
        rows = []
        for ctx, cont in encoded:
            if not cont:
                raise ValueError("an empty continuation has no log-likelihood")
            full = (list(ctx) + list(cont))[-(self.max_length + 1):]
            rows.append((tuple(full[:-1]), tuple(full[len(full) - len(cont):])))
        return rows

    def rolling_logprobs(self, docs: list[list[int]], batch_size: int = 8, window: int | None = None,
                         desc: str = "rolling loglikelihood") -> list[list[float]]:
        """Log-probability of every token of each document, by disjoint windows of predicted tokens
        with inputs of the model's length (the first starts from the prefix token): lm-eval's rolling
        loglikelihood. Windows of all documents are scored together."""
        window = min(window or self.max_length, self.max_length)
        pieces, owner = [], []
        for d, ids in enumerate(docs):
            for s in range(0, len(ids), window):
                end = min(s + window, len(ids))
                # a window sees `window` tokens: a short last one takes more of the text before it
                pieces.append(([self.prefix_id] if s == 0 else ids[end - window - 1:s], ids[s:end]))
                owner.append(d)
        scored = self.per_token(pieces, batch_size, desc)
        out: list[list[float]] = [[] for _ in docs]
        for d, lps in zip(owner, scored):
            out[d].extend(lps)
        return out

    def score_tokens(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                     desc: str = "loglikelihood") -> list[Scored]:
        raise NotImplementedError

    def per_token(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                  desc: str = "loglikelihood") -> list[list[float]]:
        raise NotImplementedError
