"""The generator interface: callers hand a batch of chat requests and get completions back, never
knowing which backend runs them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Sampling:
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None        # per request: the same seed gives the same text on retry
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    messages: tuple[tuple[str, str], ...]      # (role, content) pairs
    sampling: Sampling = field(default_factory=Sampling)
    prefill: str = ""                          # text the assistant's answer starts with

    @classmethod
    def chat(cls, user: str, system: str | None = None, prefill: str = "", **sampling) -> "Request":
        msgs = ((("system", system),) if system else ()) + (("user", user),)
        return cls(msgs, Sampling(**sampling), prefill)


@dataclass
class Completion:
    text: str                       # the answer, prefill included
    finish_reason: str              # "stop" | "length" | "error"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class Generator(Protocol):
    name: str

    def generate(self, requests: list[Request]) -> list[Completion]:
        """One completion per request, in order; a request the backend fails on gets
        finish_reason "error" rather than failing the whole batch."""
        ...
