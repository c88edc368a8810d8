"""Token-level precision/recall/F1 of extracted text against gold text (the article-extraction-
benchmark's measure): bags of lower-cased word tokens, CJK characters as tokens."""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\w+", re.U)


def tokens(text: str | None) -> Counter[str]:
    return Counter(_TOKEN.findall((text or "").lower()))


def prf(predicted: str | None, gold: str) -> tuple[float, float, float]:
    p, g = tokens(predicted), tokens(gold)
    common = sum((p & g).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def benchmark_pages(folder: Path) -> Iterator[tuple[str, str | None, str]]:
    """(html, url, gold text) of the article-extraction-benchmark layout: html/<id>.html.gz and
    ground-truth.json {id: {articleBody, url}}."""
    gold = json.loads((folder / "ground-truth.json").read_text())
    for key, item in sorted(gold.items()):
        html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        yield html, item.get("url"), item["articleBody"]


def score(extract: Callable[[str, str | None], tuple[str | None, str | None]], folder: Path) -> dict[str, float]:
    rows = [prf(extract(html, url)[0], gold) for html, url, gold in benchmark_pages(folder)]
    n = len(rows)
    return {"pages": n, "precision": sum(r[0] for r in rows) / n, "recall": sum(r[1] for r in rows) / n,
            "f1": sum(r[2] for r in rows) / n}
