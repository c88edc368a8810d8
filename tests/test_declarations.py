"""One stage, one declaration: a stage declared in one file (here, a module of one's own package named
in ZHINAO_STAGE_MODULES) is found by the CLI's help, a Prefect deployment, the data pipeline and the
generated reference and stage graph, and runs; the generated files in the repository match the declarations."""
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from zhinao.app import generate
from zhinao.flows import pipelines  # noqa: F401  (the project's pipelines, made before a test adds a stage)
from zhinao.tasks.registry import ENV, stages
from zhinao.tasks.home import open_store

REPO = Path(__file__).resolve().parents[1]

TOY = '''\
"""shout: every document's text in capitals (a stage declared in one file)."""
import pyarrow as pa
from pydantic import Field

from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.docstage import document_stage
from zhinao.tasks.runtime.mapper import split_by_reason


class ShoutParams(StageParams):
    marks: int = Field(1, ge=0, le=5, description="Exclamation marks after each text.")
    min_chars: int = Field(1, ge=0, description="Shorter texts are dropped as too_quiet.")


def shout_batch(table, params, stats):
    texts = [t.upper() + "!" * params.marks for t in table["text"].to_pylist()]
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    return split_by_reason(table, [None if len(t) - params.marks >= params.min_chars else "too_quiet" for t in texts])


SHOUT = document_stage("shout", ShoutParams, shout_batch, (), code=(), input="quality",
                       description="Every document's text in capitals, with exclamation marks.",
                       tags=("data",), pipeline="data")
'''


def _declare(tmp_path, monkeypatch):
    (tmp_path / "toy_shout.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(ENV, "toy_shout")


def test_a_stage_in_one_file_is_in_the_help_deployments_pipeline_and_docs(tmp_path, monkeypatch):
    _declare(tmp_path, monkeypatch)
    names = list(stages())
    assert names.index("quality") < names.index("shout") < names.index("mix-stage1")

    env = os.environ | {"PYTHONPATH": str(tmp_path)}
    zhinao = Path(sys.executable).parent / "zhinao"
    help_text = subprocess.run([str(zhinao), "run", "--help"], env=env, capture_output=True, text=True,
                               timeout=120, check=True).stdout
    assert any(line.split()[:2] == ["shout", "data"] and line.rstrip().endswith("<- quality")
               for line in help_text.splitlines()), help_text

    from prefect.flows import load_flow_from_entrypoint

    from zhinao.app import reference
    from zhinao.flows import deployments

    assert "    entrypoint: zhinao/flows/stages.py:shout\n    description: \"Every document's text in capitals" \
        in deployments.render()
    loaded = load_flow_from_entrypoint(f"{REPO}/zhinao/flows/stages.py:shout")   # as a worker loads it
    assert loaded.name == "shout" and loaded.stage is stages()["shout"]
    doc = reference.render()
    assert "### shout" in doc and "- [shout](#shout): Every document's text in capitals" in doc
    assert "| `marks` | int (≥ 0, ≤ 5) | 1 |  | Exclamation marks after each text. |" in doc
    from zhinao.app import graph

    drawn = [line.split("-->") for line in graph.render().splitlines() if "-->" in line]
    assert ["quality"] == [source.strip() for source, targets in drawn if "shout" in targets.strip().split(" & ")]

    from zhinao.flows import pipeline, pipelines

    model = pipeline.params_model(pipelines.DATA)
    fields = list(model.model_fields)
    assert fields.index("quality") < fields.index("shout") < fields.index("mix_stage1")
    ran = {}

    def stub(name):
        def run_stage(params, inputs=None):
            ran[name] = inputs
            return pipeline.StageResult(stage=name, ref=f"{name}@x", version="x", cache_hit=False, rows=1)
        return run_stage

    for name in list(pipeline.flows()):
        monkeypatch.setitem(pipeline.flows(), name, stub(name))
    pipeline.run_pipeline(pipelines.DATA, model(shout={"marks": 2}))
    assert ran["shout"] == {"quality": "quality@x"} and list(ran).index("shout") > list(ran).index("quality")


def test_a_stage_in_one_file_runs(tmp_path, monkeypatch):
    _declare(tmp_path, monkeypatch)
    from zhinao.flows.stage import execute_stage

    docs = pa.table({"id": ["a", "b"], "text": ["hello", ""], "lang": ["en", "en"]})
    ref = open_store().import_tables("quality", [docs]).ref
    stage = stages()["shout"]
    r = execute_stage(stage, stage.params(use_ray=False, marks=2), inputs={"quality": ref})
    assert r.rows == 1 and r.stats["dropped"] == {"too_quiet": 1}
    assert open_store().open_arrow(r.ref).to_pylist() == [{"id": "a", "text": "HELLO!!", "lang": "en"}]


def test_generated_files_match_the_declarations():
    """prefect.yaml and docs/stages.md are made from the declarations, never edited by hand."""
    assert generate.stale() == [], "run: python -m zhinao.app.generate"
