"""The post-train pipeline as one flow: instruct-evolve -> sft-data; preference-data -> reward-model;
rm-filter of the SFT data with that reward model -> sft; the lineage of the SFT model."""
from __future__ import annotations

from zhinao.tasks.eval.stage import EvalParams
from zhinao.tasks.evolve.stage import InstructEvolveParams
from zhinao.flows.pipelines import PostTrainParams, post_train
from zhinao.tasks.reward.preference_stage import PreferenceDataParams
from zhinao.tasks.reward.model_stage import RewardModelParams
from zhinao.tasks.reward.filter_stage import RMFilterParams
from zhinao.tasks.sft.stage import SFTParams
from zhinao.tasks.sftdata.stage import SftDataParams
from zhinao.tasks.generate import engine
from zhinao.tasks.store import Store
from zhinao.tasks.home import open_store
from tests.evolve_standin import StandIn
from tests.post_train import judge_items


def _ancestors(store: Store, ref: str) -> set[str]:
    out, stack = set(), [store.lineage(ref)]
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if parent.manifest.ref not in out:
                out.add(parent.manifest.ref)
                stack.append(parent)
    return out


def test_the_pipeline_fine_tunes_on_reward_filtered_data_with_lineage_to_the_pairs(
        prefect_harness, tiny_pretrained, topic_folder, smollm2, monkeypatch):
    store = open_store()
    base = store.import_model("pretrain-stage2", tiny_pretrained, stage="test").ref
    judge, topics = judge_items(store), store.import_model("topic-model", topic_folder).ref
    monkeypatch.setattr(engine, "get_generator", lambda spec: StandIn())
    params = PostTrainParams(
        instruct_evolve=InstructEvolveParams(use_ray=False, seed_tasks=4, evol_depth=1, constraint_evol=0),
        sft_data=SftDataParams(use_ray=False, target_size=50),
        preference_data=PreferenceDataParams(use_ray=False, math_pairs=8, ifeval_pairs=24),
        reward_model=RewardModelParams(steps=4, micro_batch=4, warmup_steps=1, valid_fraction=0.3),
        rm_filter=RMFilterParams(use_ray=False, device="cpu"),
        sft=SFTParams(use_ray=False, max_len=128, batch_size=4, micro_batch=4, epochs=1,
                      evaluation=EvalParams(tasks=["perplexity"], limit=4)))
    results = post_train(params)
    refs = {r.ref.split("@")[0]: r for r in results}
    assert [r.ref.split("@")[0] for r in results] == ["instruct-evolve", "sft-data", "preference-data",
                                                      "reward-model", "rm-filter", "sft"]
    data, kept = refs["sft-data"], refs["rm-filter"]
    assert 0 < kept.rows <= data.rows
    # rm-filter scored with the reward model the pipeline trained, on the pipeline's SFT data
    assert set(store.resolve(kept.ref).parents) == {data.ref, refs["reward-model"].ref}
    assert store.resolve(refs["sft"].ref).parents[0] == kept.ref
    upstream = _ancestors(store, refs["sft"].ref)
    assert {kept.ref, refs["reward-model"].ref, refs["preference-data"].ref, data.ref, refs["instruct-evolve"].ref,
            judge, topics, base} <= upstream
