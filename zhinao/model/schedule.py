"""Learning-rate schedules of the two pretraining stages, as one function.

Stage 1: linear warmup to `max_lr`, then cosine decay to a raised floor (`floor_ratio` x max_lr,
higher than the usual 10%) so that stage 2 starts from a large LR and its anneal has a steep slope.
Stage 2 (anneal): from `start_lr` (stage 1's final LR) down to 0, linearly or by cosine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class LRSchedule:
    total_steps: int
    max_lr: float = 3e-4
    warmup_steps: int = 0
    floor_ratio: float = 0.3                     # stage 1: the cosine ends at floor_ratio * max_lr
    kind: Literal["cosine_floor", "anneal"] = "cosine_floor"
    anneal_shape: Literal["linear", "cosine"] = "linear"

    def __post_init__(self):
        if self.total_steps <= 0 or not 0 <= self.warmup_steps < self.total_steps:
            raise ValueError(f"need 0 <= warmup_steps ({self.warmup_steps}) < total_steps ({self.total_steps})")
        if not 0 <= self.floor_ratio <= 1 or self.max_lr <= 0:
            raise ValueError("max_lr must be > 0 and floor_ratio within [0, 1]")

    def __call__(self, step: int) -> float:
        """The LR of optimizer step `step` (0-based); past total_steps it stays at the end value."""
        step = min(max(step, 0), self.total_steps)
        if step < self.warmup_steps:
            return self.max_lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        if self.kind == "anneal":   # max_lr is the LR the anneal starts from
            decay = 1 - progress if self.anneal_shape == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
            return self.max_lr * decay
        floor = self.floor_ratio * self.max_lr
        return floor + (self.max_lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    @property
    def final_lr(self) -> float:
        return self(self.total_steps)


def anneal_after(stage1: LRSchedule, total_steps: int, shape: Literal["linear", "cosine"] = "linear") -> LRSchedule:
    """Stage 2's schedule: starts at stage 1's final LR and decays to 0."""
    return LRSchedule(total_steps=total_steps, max_lr=stage1.final_lr, kind="anneal", anneal_shape=shape)


def plot_schedules(schedules: list[tuple[str, LRSchedule]], path: Path) -> Path:
    """The schedules end to end on one step axis (stage 2 after stage 1), for the run report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    offset = 0
    for name, s in schedules:
        steps = list(range(s.total_steps + 1))
        ax.plot([offset + k for k in steps], [s(k) for k in steps], label=name)
        offset += s.total_steps
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
