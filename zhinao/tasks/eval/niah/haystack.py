"""Haystacks: documents from a text folder or any iterable of texts, filtered by script, shuffled
by seed and joined (paragraph breaks between documents) until long enough."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Iterable, Iterator

from .tokens import Counter, approx_tokens

_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z]")


TEXT_SUFFIXES = (".txt", ".jsonl", ".parquet")


def text_files(folder: str | Path) -> list[Path]:
    """The files under `folder` that hold text, in sorted path order."""
    return [p for p in sorted(Path(folder).rglob("*")) if p.suffix in TEXT_SUFFIXES and p.is_file()]


def read_documents(folder: str | Path) -> Iterator[tuple[str, str]]:
    """(id, text) of the .txt files (one document per file, named by its path under `folder`),
    .jsonl files (`text` field per line) and .parquet files (`text` column) under `folder`."""
    for path in text_files(folder):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".txt":
            yield name, path.read_text(encoding="utf-8", errors="replace")
        elif path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if line.strip() and isinstance(text := json.loads(line).get("text"), str):
                        yield f"{name}:{i + 1}", text
        else:
            import pyarrow.parquet as pq

            i = 0
            for batch in pq.ParquetFile(path).iter_batches(columns=["text"], batch_size=1024):
                for text in batch.column(0).to_pylist():
                    i += 1
                    if isinstance(text, str):
                        yield f"{name}:{i}", text


def read_texts(folder: str | Path) -> Iterator[str]:
    """The texts of read_documents(folder)."""
    return (text for _, text in read_documents(folder))


def langs_held(texts: Iterable[str]) -> list[str]:
    """The languages ("en", "zh") whose script the texts hold, in that order."""
    held = {script_lang(t) for t in texts if t.strip()}
    return [lang for lang in ("en", "zh") if lang in held]


def script_lang(text: str) -> str:
    """"zh" when Han characters make at least a fifth of the letters, else "en" (a script test,
    enough to split a bilingual dataset into haystacks; not language identification)."""
    han, latin = len(_CJK_RE.findall(text)), len(_LATIN_RE.findall(text))
    return "zh" if han and han >= 0.2 * (han + latin) else "en"


def collect(texts: Iterable[str] | str | Path, langs: Iterable[str | None], n_tokens: int,
            pool_factor: float = 4.0) -> dict[str | None, list[str]]:
    """Documents per language ("en"/"zh"; None takes any), in one pass over `texts` that stops once
    every pool holds `pool_factor` times `n_tokens` (approximate tokens), so that a large folder or
    dataset is not read whole and the shuffle still has choice."""
    if isinstance(texts, (str, Path)):
        texts = read_texts(texts)
    pools: dict[str | None, list[str]] = {lang: [] for lang in langs}
    sizes = dict.fromkeys(pools, 0)
    for text in texts:
        text = text.strip()
        if not text:
            continue
        lang = script_lang(text)
        for key in (lang, None):
            if key in pools and sizes[key] < pool_factor * n_tokens:
                pools[key].append(text)
                sizes[key] += approx_tokens(text)
        if all(size >= pool_factor * n_tokens for size in sizes.values()):
            break
    return pools


def join_pool(pool: list[str], n_tokens: int, seed: int = 0, count_tokens: Counter | None = None,
              salt: str = "") -> str:
    """The pool shuffled with `seed` (and `salt`, e.g. the language) and joined with paragraph
    breaks until at least `n_tokens` (summed per document), cycling if the pool is short."""
    if not pool:
        raise ValueError("no texts to build a haystack from")
    count = count_tokens or approx_tokens
    pool = list(pool)
    random.Random(f"haystack:{seed}:{salt}").shuffle(pool)
    parts, total = [], 0
    while total < n_tokens:
        parts.append(pool[len(parts) % len(pool)])
        total += count(parts[-1])
    return "\n\n".join(parts)


def build_haystack(texts: Iterable[str] | str | Path, n_tokens: int, seed: int = 0, lang: str | None = None,
                   count_tokens: Counter | None = None, pool_factor: float = 4.0) -> str:
    """At least `n_tokens` of `lang` text ("en"/"zh", None for any) from a folder or texts,
    deterministic by seed."""
    pool = collect(texts, [lang], n_tokens, pool_factor)[lang]
    if not pool:
        raise ValueError(f"no {lang or 'non-empty'} texts to build a haystack from")
    return join_pool(pool, n_tokens, seed, count_tokens, salt=str(lang))
