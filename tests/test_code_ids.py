"""Code in version ids: for every registered stage, editing any repository file it imports (found
independently by the standard library's ModuleFinder, lazy imports in functions included) changes
its code fingerprint; comments and docstrings do not."""
import modulefinder
import sys
from pathlib import Path

import pytest

from zhinao.flows.registry import targets
from zhinao.tasks.declare import stage_modules
from zhinao.tasks.store.closure import REPO, closure, code_fingerprint, read_source

STAGES = {name: t.flow.stage for name, t in targets().items() if t.kind == "stage"}


def _imported_files(modules: tuple[str, ...], tmp_path: Path) -> set[Path]:
    """The repository files a script importing `modules` reaches, by ModuleFinder (which scans the
    bytecode of every function too); only the repository is on its path."""
    script = tmp_path / "entry.py"
    script.write_text("".join(f"import {m}\n" for m in modules))
    finder = modulefinder.ModuleFinder(path=[str(REPO)])
    finder.run_script(str(script))
    return {Path(m.__file__).resolve() for name, m in finder.modules.items()
            if m.__file__ and name != "__main__" and Path(m.__file__).resolve().is_relative_to(REPO)}


def _edited(target: Path, extra: bytes):
    def read(path: Path) -> bytes:
        return read_source(path) + extra if path == target else read_source(path)
    return read


@pytest.mark.parametrize("name", sorted(STAGES))
def test_editing_any_file_a_stage_imports_changes_its_id(name, tmp_path):
    stage = STAGES[name]
    modules = stage_modules(stage)
    assert any(m.rsplit(".", 1)[-1] == "stage" or m.endswith("_stage") for m in modules), \
        "the declaration module is part of the code"
    files = {p.resolve() for p in closure(modules).values()}
    imported = _imported_files(modules, tmp_path)
    assert imported and imported <= files, sorted(str(p.relative_to(REPO)) for p in imported - files)
    base = code_fingerprint(modules, salt=name)
    for path in sorted(imported):
        assert code_fingerprint(modules, name, read=_edited(path, b"\n_edited_by_a_test = 1\n")) != base, path


def test_comments_and_docstrings_do_not_change_the_fingerprint():
    modules = stage_modules(STAGES["dedup-minhash"])
    path = Path(sys.modules["zhinao.tasks.dedup.components"].__file__).resolve()
    base = code_fingerprint(modules)
    assert code_fingerprint(modules, read=_edited(path, b"\n# a comment\n")) == base
    source = read_source(path)
    redoc = source.replace(b'"""Connected components', b'"""Reworded: connected components', 1)
    assert redoc != source
    assert code_fingerprint(modules, read=lambda p: redoc if p == path else read_source(p)) == base
    code = source.replace(b"MAX_ROUNDS = 64", b"MAX_ROUNDS = 65", 1)
    assert code != source
    assert code_fingerprint(modules, read=lambda p: code if p == path else read_source(p)) != base


def test_data_logic_in_flows_and_helpers_is_covered():
    """What the issue found missing: flows/ modules and helpers a stage imports without naming."""
    for stage, module in (("rebalance", "zhinao.tasks.runtime.sampling"), ("dedup-minhash", "zhinao.tasks.dedup.minhash_stage"),
                          ("mix-stage1", "zhinao.tasks.mix.stage"), ("synth", "zhinao.tasks.generate.synth_stage"), ("rebalance", "zhinao.tasks.topics.rebalance_stage")):
        assert module in closure(stage_modules(STAGES[stage])), (stage, module)
