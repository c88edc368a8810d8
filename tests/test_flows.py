import dataclasses
from pathlib import Path

import pytest

from zhinao.app.cli import main
from zhinao.tasks.ingest.stage import IngestParams
from zhinao.flows.stages import ingest
from zhinao.app.params import parse_params
from zhinao.flows.pipelines import DataParams
from zhinao.flows.stage import make_flow
from zhinao.tasks.home import open_store
from tests.stages import NUMBERS, NumParams


def test_parse_params_reads_json_lists_and_nested_keys():
    p = parse_params(IngestParams, ["sources=a.warc.gz,b.jsonl", "shard_rows=10", "audit=true"])
    assert p.sources == ["a.warc.gz", "b.jsonl"] and p.shard_rows == 10 and p.audit is True
    d = parse_params(DataParams, ["ingest.max_record_bytes=1000", 'ingest.sources=["x.warc"]'])
    assert d.ingest.max_record_bytes == 1000 and d.ingest.sources == ["x.warc"]
    from zhinao.tasks.eval.stage import EvalParams

    # one value and [a,b] for a list: what run.sh passes (-p niah_lengths=384) and what users type
    e = parse_params(EvalParams, ["niah_lengths=384", "tasks=[niah, ifeval]"])
    assert e.niah_lengths == [384] and e.tasks == ["niah", "ifeval"]
    from zhinao.tasks.align.stage import DPOParams, GRPOParams
    from zhinao.flows.pipelines import PostTrainParams

    # a nested model that defaults to None, and one key of a mapping (the others keep their defaults)
    assert parse_params(DPOParams, ["lora.r=8"]).lora.alpha == 512
    assert parse_params(PostTrainParams, ["reward_model.world_size=2"]).reward_model.world_size == 2
    assert parse_params(GRPOParams, ["rewards.math=0"]).rewards == {"reward_model": 1.0, "math": 0, "ifeval": 1.0}
    from zhinao.flows.align_pipeline import AlignPipelineParams

    assert parse_params(AlignPipelineParams, ["weights.dpo-lora=2"]).weights == {"dpo-lora": 2}
    with pytest.raises(ValueError, match="unknown parameter 'shards'"):
        parse_params(IngestParams, ["shards=1"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_params(IngestParams, ["audit"])
    with pytest.raises(ValueError, match="greater than 0"):
        parse_params(IngestParams, ["shard_rows=0"])


def test_stage_parameters_form_a_deployment_schema():
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(ingest.fn).model_dump()
    props = schema["definitions"]["IngestParams"]["properties"]
    assert {"sources", "max_record_bytes", "audit", "shard_rows"} <= set(props)
    assert "sample" in props["sources"]["description"]


def test_ingest_flow_under_prefect_publishes_artifacts(prefect_harness, sample_crawl):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    result = ingest(IngestParams(sources=[str(sample_crawl)], use_ray=False))
    assert not result.cache_hit and result.rows > 400
    m = open_store().resolve(result.ref)
    assert m.flow_run_id                                   # the Prefect run that produced it

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["ingest-stats", "ingest-lineage"])))

    import asyncio

    found = {a.key: a for a in asyncio.run(artifacts()) if str(a.flow_run_id) == m.flow_run_id}
    assert set(found) == {"ingest-stats", "ingest-lineage"}
    table = found["ingest-stats"].data
    assert "dropped.truncated_gzip" in str(table) and result.ref in found["ingest-lineage"].data
    assert ingest(IngestParams(sources=[str(sample_crawl)], use_ray=False)).cache_hit


def test_prefect_retry_restarts_the_stage_clean(prefect_harness, tmp_path, zhinao_home):
    marker = tmp_path / "failed-once"

    def flaky(split, params, sink, stats):
        NUMBERS.process(split, params, sink, stats)
        if split["start"] == 5 and not marker.exists():
            marker.touch()
            raise RuntimeError("worker lost")

    stage = dataclasses.replace(NUMBERS, name="flaky", process=flaky, retries=1, retry_delay_s=0)
    result = make_flow(stage)(NumParams(use_ray=False))
    assert marker.exists() and not result.cache_hit and result.rows == 20
    folder = zhinao_home / "store" / "flaky"
    assert [p.name for p in folder.iterdir()] == [result.version]    # the failed attempt left nothing
    assert len(open_store().catalog.find("flaky")) == 1


def test_cli_run_datasets_and_lineage(prefect_harness, sample_crawl, capsys):
    assert main(["run", "ingest", "-p", f"sources={sample_crawl}", "-p", "use_ray=false"]) == 0
    out = capsys.readouterr().out
    assert "computed" in out
    assert main(["run", "ingest", "-p", f"sources={sample_crawl}", "-p", "use_ray=false"]) == 0
    assert "cache hit" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    version = open_store().resolve("ingest").version
    assert version in capsys.readouterr().out
    assert main(["lineage", f"ingest@{version[:8]}"]) == 0
    out = capsys.readouterr().out
    assert f"ingest@{version}" in out and "crawl-00000.warc.gz" in out
    assert main(["lineage", "nothing"]) == 2
    assert "no version of dataset 'nothing'" in capsys.readouterr().out
    assert main(["run", "nope"]) == 2


def test_cli_sample_corpus(tmp_path):
    assert main(["sample-corpus", "--out", str(tmp_path / "c"), "--pages", "40", "--files", "2"]) == 0
    assert sorted(p.name for p in Path(tmp_path / "c").iterdir()) == [
        "crawl-00000.warc.gz", "crawl-00001.warc.gz", "truth.json"]


def test_data_pipeline_chains_every_stage_and_reports_a_funnel(prefect_harness, sample_crawl, zhinao_home, smollm2):
    from zhinao.flows.pipelines import data
    from zhinao.flows.report import funnel_rows

    stages = [name for name, f in DataParams.model_fields.items() if name not in ("generate", "rm_score")]
    params = DataParams(**{name: {"use_ray": False} for name in stages})
    params.ingest.sources = [str(sample_crawl)]
    # the LLM stages on a few documents, short generations: real text from the default model
    params.rewrite = params.rewrite.model_copy(update={"docs": 2, "max_tokens": 128})
    params.synth = params.synth.model_copy(update={"docs": 2, "kinds": ["math", "instruction"], "max_tokens": 200})
    results = data(params)
    assert [r.stage for r in results] == ["ingest", "extract", "langid", "quality", "dedup-exact", "dedup-minhash",
                                          "embed", "dedup-semantic", "annotate", "topic-model", "classify", "rebalance",
                                          "rewrite", "synth", "judge", "mix-stage1", "mix-stage2"]
    by = {r.stage: r for r in results}
    store = open_store()
    semantic = by["dedup-semantic"]
    node = store.lineage(semantic.ref)
    chain = []
    while node.parents:
        chain.append(node.manifest.stage)
        node = node.parents[0]          # dedup-semantic's first input is the documents
    assert chain + [node.manifest.stage] == ["dedup-semantic", "dedup-minhash", "dedup-exact", "quality", "langid",
                                             "extract", "ingest"]
    assert len([s for s in node.manifest.sources if s["name"].endswith(".warc.gz")]) == 4   # down to the crawl files
    rows = funnel_rows(results[:8] + [by["classify"], by["rebalance"]])
    rows = [r for r in rows if r["stage"] != "embed"]
    assert all(a["rows_out"] >= b["rows_out"] for a, b in zip(rows, rows[1:]))
    assert rows[0]["rows_in"] > rows[0]["rows_out"] > rows[-1]["rows_out"] > 0
    assert list((zhinao_home / "reports").glob("funnel-*.png"))

    # topics: a classifier model version between the annotations and every classified document
    model = store.resolve(by["topic-model"].ref)
    assert model.kind == "model" and model.parents == [by["annotate"].ref]
    assert store.resolve(by["classify"].ref).parents == [semantic.ref, model.ref]
    assert by["classify"].rows == semantic.rows and by["topic-model"].stats["tables"]["quality"][0]["accuracy"] > 0.5
    assert by["rebalance"].stats["dropped"].get("rebalance_downsampled", 0) > 0      # the sample is skewed
    assert list((zhinao_home / "reports").glob("rebalance-*.png"))

    kept_ids = set(store.open_arrow(by["rebalance"].ref, columns=["id"])["id"].to_pylist())
    rewrite, synth, judge = by["rewrite"], by["synth"], by["judge"]
    assert rewrite.stats["counters"]["rows_in"] == 2
    assert set(store.open_arrow(rewrite.ref, columns=["rewritten_from"])["rewritten_from"].to_pylist()) <= kept_ids
    assert synth.stats["counters"]["topics.rows_in"] == 2 and synth.stats["counters"]["round1.rows_in"] > 0
    assert set(store.open_arrow(synth.ref, columns=["synth_from"])["synth_from"].to_pylist()) <= kept_ids
    assert judge.stats["counters"].get("rows_in", 0) == synth.rows
    assert store.resolve(judge.ref).parents == [synth.ref] and store.resolve(synth.ref).parents == [by["rebalance"].ref]

    # the mixtures: what pretraining reads, with lineage back to web, rewrites and judged items
    for name in ("mix-stage1", "mix-stage2"):
        mix = by[name]
        assert mix.rows > 0 and by["rebalance"].ref in store.resolve(mix.ref).parents
        for row in mix.stats["tables"]["mixture"]:
            assert abs(row["achieved_share"] - row["share"]) <= 0.05, (name, row)
        mixed = store.open_arrow(mix.ref)
        assert set(mixed["mix_source"].to_pylist()) <= {r["source"] for r in mix.stats["tables"]["mixture"]}
    assert all(r.cache_hit for r in data(params))                # nothing changed: nothing recomputed


def test_every_stage_and_pipeline_has_a_deployment():
    import yaml

    from zhinao.flows.registry import targets

    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "prefect.yaml").read_text())
    entry = {d["entrypoint"] for d in spec["deployments"]}
    named = {e.rsplit(":", 1)[1] for e in entry}
    assert named == {name.replace("-", "_") for name in targets()}     # flows are named after their stage
