"""What shapes a stage's output from outside the repository: libraries, environment variables that
select behaviour, and files read at run time (model weights). A module declares its own at module
level, as a plain dict so that declaring costs no import:

    EXTERNAL = {"libraries": ("trafilatura",), "env": ("ZHINAO_KERNELS",), "files": model_files}

(`files`: a function returning the paths), and every stage whose code closure holds that module gets
them as sources: in its version id (another library version, other weights: another version) and
in its lineage."""
from __future__ import annotations

import importlib
import importlib.metadata
import os
from pathlib import Path

MARK = b"\nEXTERNAL = {"


def library_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def external_sources(modules: dict[str, Path]) -> list[dict[str, str]]:
    """Sources declared by the modules of a code closure (module name -> file), deduplicated."""
    from .fingerprint import file_fingerprint

    found: dict[str, dict[str, str]] = {}
    for name, path in modules.items():
        if MARK not in path.read_bytes():      # only declaring modules are imported
            continue
        ext = getattr(importlib.import_module(name), "EXTERNAL", {})
        for dist in ext.get("libraries", ()):
            found[f"library/{dist}"] = {"name": f"library/{dist}", "fingerprint": library_version(dist)}
        for var in ext.get("env", ()):
            found[f"env/{var}"] = {"name": f"env/{var}", "fingerprint": os.environ.get(var, "")}
        for file in ext["files"]() if "files" in ext else ():
            found[f"file/{file.name}"] = {"uri": str(file), "name": f"file/{file.name}",
                                          "fingerprint": file_fingerprint(str(file))}
    return [found[k] for k in sorted(found)]
