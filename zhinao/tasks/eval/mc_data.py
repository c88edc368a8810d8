"""Multiple-choice benchmark files in their public layouts, read from local folders.

- CMMLU: `test/<subject>.csv`, `dev/<subject>.csv`; a header row `,Question,A,B,C,D,Answer`.
- C-Eval: `test|val|dev/<subject>_<split>.csv`; a header row `id,question,A,B,C,D,answer[,explanation]`.
- MMLU: `data/test|dev/<subject>_<split>.csv` (or without `data/`); no header: question,A,B,C,D,answer.
One CSV per subject; the answer is a letter. Items keep their file order."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

LETTERS = ("A", "B", "C", "D")


@dataclass(frozen=True)
class MCItem:
    subject: str
    index: int
    question: str
    choices: tuple[str, ...]
    answer: int                 # index into choices


def read_subject_csv(path: Path, subject: str) -> list[MCItem]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    if "answer" in header and ("question" in header):
        q, a = header.index("question"), header.index("answer")
        opts = [header.index(x.lower()) for x in LETTERS]
        body, start = rows[1:], 2
    else:                                       # MMLU: no header, question first, answer last
        q, opts, a = 0, [1, 2, 3, 4], 5
        body, start = rows, 1
    items = []
    for n, row in enumerate(body):
        try:
            letter = row[a].strip().upper()
            if letter not in LETTERS:
                raise ValueError(f"answer {row[a]!r} is not one of A-D")
            items.append(MCItem(subject, n, row[q].strip(), tuple(row[i].strip() for i in opts),
                                LETTERS.index(letter)))
        except (IndexError, ValueError) as e:
            raise ValueError(f"{path}, line {start + n}: {e if isinstance(e, ValueError) else 'too few columns'}") from None
    return items


def _split_dir(root: Path, split: str) -> Path | None:
    for cand in (root / split, root / "data" / split):
        if cand.is_dir():
            return cand
    return None


def subject_files(root: Path, split: str) -> dict[str, Path]:
    """subject -> CSV of `split` (test, dev, val)."""
    folder = _split_dir(root, split)
    if folder is None:
        return {}
    out = {}
    for p in sorted(folder.glob("*.csv")):
        name = p.stem
        for suffix in (f"_{split}",):
            if name.endswith(suffix):
                name = name[:-len(suffix)]
        out[name] = p
    return out


def read_benchmark(root: str | Path, split: str = "test", subjects: list[str] | None = None) -> dict[str, list[MCItem]]:
    root = Path(root).expanduser()
    files = subject_files(root, split)
    if not files:
        raise FileNotFoundError(f"{root} has no {split}/*.csv (expected the CMMLU, C-Eval or MMLU layout: "
                                f"{split}/<subject>.csv, {split}/<subject>_{split}.csv or data/{split}/...)")
    if subjects:
        unknown = sorted(set(subjects) - set(files))
        if unknown:
            raise ValueError(f"{root}: no subject(s) {unknown}; it has {sorted(files)[:10]}...")
        files = {s: files[s] for s in subjects}
    return {s: read_subject_csv(p, s) for s, p in files.items()}
