"""Token counts for mixture shares: a real tokenizer (a tokenizer.json file or a folder holding one,
e.g. the project's trained tokenizer) or `approx`, an estimate that needs no tokenizer: one token
per CJK character, one per 4 characters of other words (at least one per word), one per other
symbol, close to what byte-level BPE vocabularies give on English and Chinese prose."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_PIECES = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_]+|\d|[^\w\s]", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def approx_tokens(text: str) -> int:
    n = 0
    for m in _PIECES.finditer(text):
        piece = m.group()
        n += 1 if len(piece) == 1 or _CJK.match(piece) else (len(piece) + 3) // 4
    return n


@lru_cache(maxsize=2)
def _tokenizer(path: str):
    from tokenizers import Tokenizer

    p = Path(path)
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise FileNotFoundError(f"tokenizer {path!r}: no tokenizer.json there (or say 'approx')")
    tok = Tokenizer.from_file(str(file))
    tok.no_padding()           # a tokenizer saved for a model may pad or cut to its length: count raw
    tok.no_truncation()
    return tok


def check_tokenizer(name: str) -> None:
    if name != "approx":
        _tokenizer(str(Path(name).expanduser()))


def count_tokens(texts: list[str], tokenizer: str = "approx") -> list[int]:
    if tokenizer == "approx":
        return [approx_tokens(t) for t in texts]
    tok = _tokenizer(str(Path(tokenizer).expanduser()))
    return [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
