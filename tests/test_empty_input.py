"""Every data stage on an empty input version (0 rows, one empty shard with the schema, as ingest of a
source without documents or a quality stage that drops every page commits): it commits a 0-row
version, or fails in one line saying why it needs data (the topic classifier has nothing to fit)."""
import re

import pytest

from zhinao.tasks.topics.annotate_stage import ANNOTATE, AnnotateParams
from zhinao.tasks.topics.classify_stage import CLASSIFY, ClassifyParams
from zhinao.tasks.dedup.exact_stage import DEDUP_EXACT, ExactDedupParams
from zhinao.tasks.dedup.minhash_stage import DEDUP_MINHASH, MinHashParams
from zhinao.tasks.semantic.dedup_stage import DEDUP_SEMANTIC, SemanticDedupParams
from zhinao.tasks.semantic.embed_stage import EMBED, EmbedParams
from zhinao.tasks.extract.stage import EXTRACT, ExtractParams
from zhinao.tasks.ingest.stage import INGEST, IngestParams
from zhinao.tasks.langid.stage import LANGID, LangIdParams
from zhinao.tasks.mix.stage import MIX_STAGE1, MIX_STAGE2, MixParams, MixStage2Params
from zhinao.tasks.mix.stage import only_made
from zhinao.tasks.quality.stage import QUALITY, QualityParams
from zhinao.tasks.topics.rebalance_stage import REBALANCE, RebalanceParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.topics.model_stage import TOPIC_MODEL, TopicModelParams
from zhinao.tasks.home import open_store

# stage, params, {input name: the stage (in this chain) whose version it reads}
CHAIN = [
    (EXTRACT, ExtractParams(), {"ingest": "ingest"}),
    (LANGID, LangIdParams(), {"extract": "extract"}),
    (QUALITY, QualityParams(), {"langid": "langid"}),
    (DEDUP_EXACT, ExactDedupParams(), {"quality": "quality"}),
    (DEDUP_MINHASH, MinHashParams(), {"dedup-exact": "dedup-exact"}),
    (EMBED, EmbedParams(), {"dedup-minhash": "dedup-minhash"}),
    (DEDUP_SEMANTIC, SemanticDedupParams(), {"dedup-minhash": "dedup-minhash", "embed": "embed"}),
    (ANNOTATE, AnnotateParams(annotator="embedding"), {"dedup-semantic": "dedup-semantic"}),
    (TOPIC_MODEL, TopicModelParams(), {"annotate": "annotate"}),
    # with no classifier trained on nothing, the shared test classifier (conftest.topic_folder)
    (CLASSIFY, ClassifyParams(), {"dedup-semantic": "dedup-semantic", "topic-model": "trained-topic-model"}),
    (REBALANCE, RebalanceParams(), {"classify": "classify"}),
    (MIX_STAGE1, only_made(MixParams(partitions=2), {"rebalance": ""}), {"rebalance": "rebalance"}),
    (MIX_STAGE2, only_made(MixStage2Params(partitions=2), {"rebalance": ""}), {"rebalance": "rebalance"}),
]
NEEDS_DATA = {"topic-model": r"annotate@\w+ has no annotated documents: the topic classifier needs some to train on"}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, topic_folder):
    """Each stage of the chain run once on its empty input: its result, or the error it raised."""
    home = tmp_path_factory.mktemp("empty-chain")
    (home / "empty.jsonl").write_bytes(b"")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZHINAO_HOME", str(home / "home"))
        store = open_store()
        refs = {"ingest": execute_stage(INGEST, IngestParams(sources=[str(home / "empty.jsonl")], use_ray=False)).ref,
                "trained-topic-model": store.import_model("topic-model", topic_folder).ref}
        out = {}
        for stage, params, inputs in CHAIN:
            missing = [v for v in inputs.values() if v not in refs]
            if missing:
                out[stage.name] = AssertionError(f"its input {missing} failed on the empty input")
                continue
            try:
                r = execute_stage(stage, params.model_copy(update={"use_ray": False}),
                                  inputs={name: refs[v] for name, v in inputs.items()})
            except Exception as e:
                out[stage.name] = e
                continue
            refs[stage.name] = r.ref
            out[stage.name] = (r, store.open_arrow(r.ref))
        yield out


@pytest.mark.parametrize("name", [stage.name for stage, _, _ in CHAIN])
def test_a_stage_on_an_empty_input(outcomes, name):
    got = outcomes[name]
    if name in NEEDS_DATA:
        assert isinstance(got, ValueError), got
        assert re.match(NEEDS_DATA[name], str(got)) and "\n" not in str(got)
        return
    if isinstance(got, Exception):
        raise got
    result, table = got
    assert result.rows == 0 and table.num_rows == 0
    assert "id" in table.schema.names          # the empty version still carries its schema
