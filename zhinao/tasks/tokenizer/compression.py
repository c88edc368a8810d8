"""Compression of tokenizers on held-out text, per language: UTF-8 bytes per token and characters
per token (higher = fewer tokens for the same text = longer effective context, cheaper training)."""
from __future__ import annotations

from pathlib import Path

from ..plots import pyplot, save


def load_any(path: str | Path):
    """A `tokenizers.Tokenizer` from a tokenizer.json or a folder holding one (padding and
    truncation off: we count raw tokens)."""
    from tokenizers import Tokenizer

    p = Path(path)
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise FileNotFoundError(f"no tokenizer.json at {path}")
    tok = Tokenizer.from_file(str(file))
    tok.no_padding()
    tok.no_truncation()
    return tok


def compression(tok, texts: list[str]) -> dict:
    if not texts:
        return {"docs": 0, "tokens": 0, "bytes_per_token": 0.0, "chars_per_token": 0.0}
    tokens = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
    chars = sum(len(t) for t in texts)
    data = sum(len(t.encode("utf-8")) for t in texts)
    return {"docs": len(texts), "tokens": tokens, "bytes_per_token": round(data / max(tokens, 1), 3),
            "chars_per_token": round(chars / max(tokens, 1), 3)}


def plot_compression(rows: list[dict], path: Path) -> Path:
    """rows: {tokenizer, lang, bytes_per_token, chars_per_token}; grouped bars per language."""
    plt = pyplot()
    import numpy as np

    names = list(dict.fromkeys(r["tokenizer"] for r in rows))
    langs = sorted({r["lang"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("bytes_per_token", "chars_per_token")):
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            vals = [next((r[metric] for r in rows if r["tokenizer"] == name and r["lang"] == lang), 0) for lang in langs]
            ax.bar(np.arange(len(langs)) + k * width, vals, width, label=name)
        ax.set_xticks(np.arange(len(langs)) + 0.4 - width / 2, langs)
        ax.set_title(metric.replace("_", " "))
    axes[0].legend(fontsize=7)
    return save(fig, path)
