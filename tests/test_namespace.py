"""One namespace: the project imports as `zhinao.*` from anywhere (inside the repository, another
working folder, a Ray worker, a rank process), and no top-level import name of the project is one
an installed distribution provides (Hugging Face's `kernels` comes with transformers)."""
import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

IMPORT_ALL = """
import importlib, pkgutil, sys, zhinao
bad = []
for m in pkgutil.walk_packages(zhinao.__path__, "zhinao."):
    try:
        importlib.import_module(m.name)
    except Exception as e:
        bad.append(f"{m.name}: {e!r}")
import transformers.integrations.hub_kernels   # imports `kernels` where transformers depends on it
kernels = sys.modules.get("kernels")
print("\\n".join(bad) or "ok", getattr(kernels, "__file__", None))
"""


def project_import_names() -> set[str]:
    """What `import X` finds at the repository root: packages and modules."""
    return {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file()} | \
           {p.stem for p in REPO.glob("*.py")}


def test_no_top_level_name_of_the_project_is_a_distributions():
    names = project_import_names()
    assert names <= {"zhinao", "tests"}, f"a new top-level import name: {sorted(names - {'zhinao', 'tests'})}"
    provided = md.packages_distributions()
    clashes = {n: provided[n] for n in names if set(provided.get(n, [])) - {"zhinao-pipeline"}}
    assert clashes == {}, f"installed distributions provide the project's import names: {clashes}"


@pytest.mark.parametrize("where", ["repository", "elsewhere"])
def test_every_module_imports_from_inside_and_outside_the_repository(where, tmp_path):
    cwd = REPO if where == "repository" else tmp_path     # `python -c` puts the working folder first
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=cwd, capture_output=True, text=True,
                         timeout=600, env={"TRITON_INTERPRET": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    status, kernels_file = out.stdout.split()[-2:]
    assert status == "ok", out.stdout
    assert kernels_file == "None" or "site-packages" in kernels_file, f"`kernels` resolved to {kernels_file}"


def test_a_rank_module_starts_from_another_folder(tmp_path):
    out = subprocess.run([sys.executable, "-m", "zhinao.model.train"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 2 and "usage: python -m zhinao.model.train SPEC.json" in out.stderr, out.stderr[-2000:]


def _in_worker():
    import sys

    import transformers.integrations.hub_kernels  # noqa: F401
    from zhinao.tasks.semantic import encoder  # noqa: F401

    kernels = sys.modules.get("kernels")
    return getattr(kernels, "__file__", None), encoder.__name__


def test_a_ray_worker_imports_the_project_and_transformers(ray_local):
    import ray

    kernels_file, name = ray.get(ray.remote(_in_worker).remote())
    assert name == "zhinao.tasks.semantic.encoder"
    assert kernels_file is None or "site-packages" in kernels_file, f"`kernels` resolved to {kernels_file}"
