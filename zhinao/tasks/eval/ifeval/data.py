"""IFEval's files: input_data.jsonl (key, prompt, instruction_id_list, kwargs: one dict per
instruction, null values meaning absent) and responses JSONL (prompt, response).

An optional `lang` field on an input record ('en', 'zh', ...) is this project's addition for
per-language scores; without it the prompt's language is detected. Every error names file and line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from ...jsonl import json_objects
from .base import IFEvalError, Instruction
from .registry import build

DEFAULT_PROMPTS = "prompts.jsonl"

# inputs from outside the code that shape output (zhinao/tasks/store/external.py): the default prompt set
EXTERNAL = {"files": lambda: [Path(__file__).with_name(DEFAULT_PROMPTS)]}


@dataclass(frozen=True)
class InputRecord:
    key: int | str
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]
    lang: str | None = None
    checkers: tuple[Instruction, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        if len(self.kwargs) != len(self.instruction_id_list):
            raise IFEvalError(f"{len(self.instruction_id_list)} instruction ids but {len(self.kwargs)} kwargs dicts")
        if not self.checkers:
            built = []
            for i, (iid, kw) in enumerate(zip(self.instruction_id_list, self.kwargs)):
                if not isinstance(kw, dict):
                    raise IFEvalError(f"kwargs[{i}] ({iid}) must be an object, got {kw!r}")
                built.append(build(iid, kw))
            object.__setattr__(self, "checkers", tuple(built))

    def to_json(self) -> dict[str, Any]:
        out = {"key": self.key, "prompt": self.prompt, "instruction_id_list": list(self.instruction_id_list),
               "kwargs": [dict(k) for k in self.kwargs]}
        return out | ({"lang": self.lang} if self.lang else {})


def _lines(path: str | Path, text: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    return json_objects(path, text, error=IFEvalError)


def parse_record(obj: dict[str, Any], where: str = "record") -> InputRecord:
    missing = [f for f in ("key", "prompt", "instruction_id_list", "kwargs") if f not in obj]
    if missing:
        raise IFEvalError(f"{where}: missing field(s) {missing}")
    ids, kwargs = obj["instruction_id_list"], obj["kwargs"]
    if not isinstance(obj["prompt"], str):
        raise IFEvalError(f"{where}: prompt must be a string")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise IFEvalError(f"{where}: instruction_id_list must be a list of strings")
    if not isinstance(kwargs, list):
        raise IFEvalError(f"{where}: kwargs must be a list with one object per instruction")
    try:
        return InputRecord(key=obj["key"], prompt=obj["prompt"], instruction_id_list=tuple(ids),
                           kwargs=tuple(kwargs), lang=obj.get("lang"))
    except IFEvalError as e:
        raise IFEvalError(f"{where}: {e}") from None


def read_inputs(path: str | Path, text: str | None = None) -> list[InputRecord]:
    """Records of an input_data.jsonl file (or of `text`, named `path` in errors)."""
    records, seen = [], {}
    for where, obj in _lines(path, text):
        record = parse_record(obj, where)
        if record.key in seen:
            raise IFEvalError(f"{where}: key {record.key!r} already used at {seen[record.key]}")
        seen[record.key] = where
        records.append(record)
    return records


def read_responses(path: str | Path) -> dict[str, str]:
    """prompt -> response; a prompt answered twice with different responses is an error."""
    out: dict[str, str] = {}
    lines: dict[str, str] = {}
    for where, obj in _lines(path):
        prompt, response = obj.get("prompt"), obj.get("response")
        if not isinstance(prompt, str) or not isinstance(response, str):
            raise IFEvalError(f"{where}: needs string fields 'prompt' and 'response'")
        if prompt in out and out[prompt] != response:
            raise IFEvalError(f"{where}: prompt already answered differently at {lines[prompt]}")
        out[prompt], lines[prompt] = response, where
    return out


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    Path(path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def default_prompts() -> list[InputRecord]:
    """The package's prompt set: a dozen English and a dozen Chinese verifiable-instruction prompts."""
    text = resources.files(__package__).joinpath(DEFAULT_PROMPTS).read_text(encoding="utf-8")
    return read_inputs(DEFAULT_PROMPTS, text)
