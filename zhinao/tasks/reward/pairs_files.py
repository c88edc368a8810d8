"""User preference files (JSONL, JSONL.gz or Parquet) in the common layouts, normalised to the
preference schema. A row that fits none is dropped with the reason naming its problem.

Layouts, by what `chosen` and `rejected` hold:
- text, with a `prompt` text: {"prompt", "chosen", "rejected"} (TRL's standard layout);
- text without a prompt: Anthropic HH (`\\n\\nHuman: ...\\n\\nAssistant: ...` transcripts that share
  everything up to the last `Assistant:` turn);
- message lists: {"chosen": [messages], "rejected": [messages]} (HH-RLHF in chat form,
  UltraFeedback-binarized, whose `prompt` text repeats the first user turn), or TRL's
  conversational {"prompt": [messages], "chosen": [assistant turn], "rejected": [...]}.
The prompt is everything before the last assistant turn (zhinao/tasks/reward/chat.py); chosen and rejected
must share it. Optional fields: `category` (default "file"), `lang` (default: detected), and
`score_chosen`/`score_rejected`, which must rank chosen first.
"""
from __future__ import annotations

import gzip
import json
import os
import re
from typing import Any, Iterator

import fsspec
import pyarrow.parquet as pq

from .chat import BadMessages, prompt_and_response
from .pairs import pair

_HH_TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


class BadRow(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def hh_messages(text: str) -> list[dict[str, str]]:
    """An HH transcript as messages (text before the first turn marker, if any, is ignored)."""
    parts = _HH_TURN.split("\n\n" + text.lstrip("\n"))
    if len(parts) < 3:
        raise BadRow("no_turns")
    return [{"role": _HH_ROLES[parts[i]], "content": parts[i + 1].strip()} for i in range(1, len(parts) - 1, 2)]


def _conversation(row: dict, side: str) -> list[dict[str, str]] | None:
    """`side` as messages including its context, or None when it is plain text beside a text prompt."""
    value, prompt = row[side], row.get("prompt")
    if isinstance(value, list):
        if isinstance(prompt, list):                       # TRL conversational: prompt turns + the answer
            return prompt + value
        return value
    if isinstance(value, str):
        if isinstance(prompt, str):
            return None
        if prompt is None:
            return hh_messages(value)
    raise BadRow(f"wrong_type:{side}")


def normalise(row: Any, origin: str) -> dict:
    """The preference row of one file row (BadRow with the drop reason otherwise)."""
    if not isinstance(row, dict):
        raise BadRow("bad_json")
    for name in ("chosen", "rejected"):
        if row.get(name) is None:
            raise BadRow(f"missing_field:{name}")
    if row.get("prompt") is not None and not isinstance(row["prompt"], (str, list)):
        raise BadRow("wrong_type:prompt")
    try:
        chosen_turns, rejected_turns = (_conversation(row, s) for s in ("chosen", "rejected"))
        if (chosen_turns is None) != (rejected_turns is None):     # one text answer, one message list
            raise BadRow("wrong_type:" + ("rejected" if chosen_turns is None else "chosen"))
        if chosen_turns is None:                                   # text prompt, text answers
            prompt, chosen, rejected = row["prompt"], row["chosen"], row["rejected"]
        else:
            (prompt, chosen, ctx_c), (_, rejected, ctx_r) = map(prompt_and_response, (chosen_turns, rejected_turns))
            if ctx_c != ctx_r:
                raise BadRow("prompt_mismatch")
    except BadMessages as e:
        raise BadRow(e.reason) from None
    if not str(prompt).strip():
        raise BadRow("empty_prompt")
    if not chosen.strip() or not rejected.strip():
        raise BadRow("empty_response")
    if chosen.strip() == rejected.strip():
        raise BadRow("identical_pair")
    sc, sr = row.get("score_chosen"), row.get("score_rejected")
    if isinstance(sc, (int, float)) and isinstance(sr, (int, float)) and not sc > sr:
        raise BadRow("scores_not_ranked")
    category = row.get("category") if isinstance(row.get("category"), str) and row["category"].strip() else "file"
    lang = row.get("lang") if isinstance(row.get("lang"), str) and row["lang"].strip() else _language(prompt + chosen)
    return pair(str(prompt), chosen, rejected, category.strip(), lang, origin)


def _language(text: str) -> str:
    from ..eval.ifeval.lang import detect

    return detect(text)[0]


def read_rows(uri: str) -> Iterator[Any]:
    """Each row of a file as an object; a JSONL line that is not JSON comes as None."""
    if uri.lower().endswith(".parquet"):
        with fsspec.open(uri, "rb") as fh:
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=1024):
                yield from batch.to_pylist()
        return
    with fsspec.open(uri, "rb") as raw:
        fh = gzip.open(raw) if uri.lower().endswith(".gz") else raw
        for line in fh:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                yield None


def file_pairs(uri: str) -> Iterator[tuple[dict, str | None]]:
    """(row, None) per usable row, ({}, reason) per bad one."""
    origin = f"file:{os.path.basename(uri.rstrip('/'))}"
    for row in read_rows(uri):
        try:
            yield normalise(row, origin), None
        except BadRow as e:
            yield {"origin": origin}, e.reason
