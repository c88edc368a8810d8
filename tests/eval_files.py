"""Small benchmark files in their public layouts, written by tests (no hub at run time)."""
from __future__ import annotations

import csv
import random
from pathlib import Path


def arithmetic_items(n: int, seed: int) -> list[tuple[str, list[str], str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        opts = {a + b}
        while len(opts) < 4:
            opts.add(a + b + rng.randint(-9, 9))
        opts = sorted(opts, key=lambda _: rng.random())
        out.append((f"What is {a} + {b}?", [str(o) for o in opts], "ABCD"[opts.index(a + b)]))
    return out


def write_cmmlu(root: Path, subjects: dict[str, tuple[int, int]], seed: int = 0) -> Path:
    """CMMLU: test/<subject>.csv and dev/<subject>.csv, header `,Question,A,B,C,D,Answer`."""
    for k, (subject, (n_test, n_dev)) in enumerate(subjects.items()):
        for split, n in (("test", n_test), ("dev", n_dev)):
            (root / split).mkdir(parents=True, exist_ok=True)
            with open(root / split / f"{subject}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
                for i, (q, opts, ans) in enumerate(arithmetic_items(n, seed * 1000 + k * 10 + (split == "dev"))):
                    w.writerow([i, q, *opts, ans])
    return root


def write_mmlu(root: Path, subject: str, n: int, seed: int = 0) -> Path:
    """MMLU: data/test/<subject>_test.csv, no header: question, A, B, C, D, answer."""
    for split in ("test", "dev"):
        folder = root / "data" / split
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{subject}_{split}.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([[q, *opts, ans] for q, opts, ans in arithmetic_items(n, seed + (split == "dev"))])
    return root
