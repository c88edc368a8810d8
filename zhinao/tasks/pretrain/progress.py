"""Follow a running job's metrics file: a progress bar, a log line every so often, and a progress
report (under Prefect: a progress artifact the UI shows while the flow runs; zhinao/flows/hooks.py).
The follower runs where the run is launched (the driver), never in a training rank."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from tqdm import tqdm

from zhinao.model.metrics import parse_rows
from zhinao.model.tail import LineTail

from ..runtime import hooks
from ..stats import artifact_key


class MetricsFollower:
    def __init__(self, path: Path, total_steps: int, key: str, logger: logging.Logger | logging.LoggerAdapter,
                 log_every_s: float = 10.0):
        self.total, self.key, self.log, self.log_every_s = total_steps, key, logger, log_every_s
        self.tail, self.last_log, self.step = LineTail(path), 0.0, 0
        self.bar = tqdm(total=total_steps, desc=key, unit="step", leave=False)
        self.artifact = hooks.progress_start(artifact_key(key), f"training progress of {key}")

    def __call__(self) -> None:
        rows = parse_rows("\n".join(self.tail.read()))
        if not rows:
            return
        row = rows[-1]
        if row["step"] < self.step:                      # the file restarted (a resumed run truncated it)
            self.bar.reset()
        self.bar.update(row["step"] - self.bar.n)
        self.step = row["step"]
        self.bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}")
        if time.monotonic() - self.last_log >= self.log_every_s or row["step"] >= self.total:
            self.last_log = time.monotonic()
            self.log.info("%s step %d/%d loss %.4f lr %.3g grad-norm %.3g%s%s", self.key, row["step"], self.total,
                          row["loss"], row["lr"], row["grad_norm"],
                          f" {row['tokens_per_s']:.0f} tokens/s" if row.get("tokens_per_s") else "",
                          f" MFU {row['mfu']:.1%}" if row.get("mfu") else "")
        hooks.progress_update(self.artifact, 100.0 * row["step"] / self.total)

    def close(self) -> None:
        self.bar.close()

