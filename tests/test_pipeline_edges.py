"""A declared pipeline's wiring, with every stage's flow replaced by a recorder: what each stage is
handed (its inputs and the versions its parameters name), stages left out and the stage that stands
in for one, and a declaration whose order contradicts its edges."""
from __future__ import annotations

import pytest

from zhinao.flows import pipeline as pipeline_module
from zhinao.flows.pipeline import Pipeline, check_order, run_pipeline
from zhinao.flows.pipelines import POST_TRAIN, PostTrainParams
from zhinao.flows.stage import StageResult
from zhinao.tasks.registry import stages


class _Calls(list):
    rows: dict[str, int]


@pytest.fixture
def calls(monkeypatch):
    """Each stage run as (name, params, inputs); a stage's result is `<name>@made`."""
    seen = _Calls()
    seen_rows: dict[str, int] = {}           # a test sets a stage's row count (default 5)

    def recorder(name):
        def run(params, inputs=None):
            seen.append((name, params, inputs))
            return StageResult(stage=name, ref=f"{name}@made", version="made", cache_hit=False,
                               rows=seen_rows.get(name, 5), kind=stages()[name].kind)
        return run

    seen.rows = seen_rows  # type: ignore[attr-defined]

    monkeypatch.setattr(pipeline_module, "flows", lambda: {n: recorder(n) for n in stages()})
    return seen


def test_each_stage_gets_what_the_run_made(calls):
    results = run_pipeline(POST_TRAIN, PostTrainParams())
    assert [r.stage for r in results] == list(POST_TRAIN.stages)
    got = {name: (params, inputs) for name, params, inputs in calls}
    assert got["sft-data"][1] == {"instruct-evolve": "instruct-evolve@made"}
    assert got["sft-data"][0].target_size == 400          # the pipeline's default, not the stage's
    assert got["reward-model"][1] == {"preference-data": "preference-data@made"}
    # rm-filter filters this run's SFT data with the reward model this run trained (a pinned parameter)
    assert got["rm-filter"][1] == {"sft-data": "sft-data@made"}
    assert got["rm-filter"][0].reward_model == "reward-model@made"
    # sft trains on what rm-filter kept: its `data` names that version; the base model stays the latest
    assert got["sft"][0].data == "rm-filter@made" and got["sft"][1] is None
    assert got["sft"][0].model == "pretrain-stage2"


def test_leaving_out_the_reward_model_leaves_out_its_pairs(calls):
    run_pipeline(POST_TRAIN, PostTrainParams(reward_model=None))
    assert [c[0] for c in calls] == ["instruct-evolve", "sft-data", "rm-filter", "sft"]
    rm_filter = calls[2][1]
    assert rm_filter.reward_model == "reward-model"        # its own: the latest reward-model version


def test_a_filter_left_out_passes_its_input_on(calls):
    results = run_pipeline(POST_TRAIN, PostTrainParams(rm_filter=None))
    assert [r.stage for r in results] == ["instruct-evolve", "sft-data", "preference-data", "reward-model", "sft"]
    assert calls[-1][1].data == "sft-data@made"


def test_an_order_against_the_edges_is_refused():
    with pytest.raises(ValueError, match=r"'backwards': sft comes before \['rm-filter'\]"):
        check_order(Pipeline(name="backwards", description="", stages=("sft", "rm-filter")))
    with pytest.raises(ValueError, match=r"rm-filter comes before \['reward-model'\]"):
        check_order(Pipeline(name="backwards", description="", stages=("rm-filter", "reward-model")))


def test_a_stage_whose_pinned_input_kept_nothing_is_not_run(calls):
    """sft's `data` is pinned to rm-filter's version; rm-filter kept no rows: the pipeline stops."""
    calls.rows["rm-filter"] = 0
    with pytest.raises(pipeline_module.EmptyOutput, match="rm-filter@made holds 0 rows .* before sft"):
        run_pipeline(POST_TRAIN, PostTrainParams())
    assert [c[0] for c in calls][-1] == "rm-filter"
