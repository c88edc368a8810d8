"""The pipelines declared as data (zhinao/flows/pipeline.py): each runs the stages that name it, in
the order their inputs give. Their defaults are sample-sized: the embedded crawl on a CPU."""
from .pipeline import Pipeline, pipeline_flow

DATA = Pipeline(
    name="data", tags=("data",), schedule="0 3 * * *",
    description="The data pipeline: crawl files -> documents -> main text -> language ID -> quality filters -> "
                "exact dedup -> MinHash dedup -> embeddings -> semantic dedup -> topic annotation, classifier, "
                "classify, rebalance -> LLM rewrite, synth (rounds), judge, rm-score -> stage-1 and stage-2 mixtures.",
    # a CPU runs the 135M default generator at tens of tokens per second; the 135M default judge cannot
    # tell good items from bad (it rates nearly all 1): on the sample, scores and answer/code checks are
    # recorded without score floors (a real judge model gets them); the sample's mixtures hold some ten
    # thousand tokens
    defaults={"rewrite": {"docs": 8, "max_tokens": 256}, "synth": {"docs": 4}, "judge": {"min_scores": {}},
              "mix-stage1": {"shard_tokens": 4000, "partitions": 4},
              "mix-stage2": {"shard_tokens": 4000, "partitions": 4}},
    optional={"rm-score": "Score judged items with a reward model and filter per category (runs when given)."},
    switches={"generate": (("rewrite", "synth", "judge", "rm-score"),
                           "Run the LLM stages (rewrite, synth, judge, rm-score) after rebalance.")},
    funnel=("ingest", "extract", "langid", "quality", "dedup-exact", "dedup-minhash", "dedup-semantic", "classify",
            "rebalance"))

MODEL = Pipeline(
    name="model", tags=("model",),
    description="The model pipeline on the latest mixtures: tokenizer -> stage-1 and stage-2 token shards -> "
                "pretraining stage 1 (cosine to a raised floor) -> stage 2 (anneal to 0 on the high-quality mix).",
    # the tiny preset on some ten thousand tokens, a minute on a CPU
    defaults={"pretrain-stage1": {"seq_len": 64, "steps": 60, "max_lr": 3e-3, "warmup_steps": 5,
                                  "checkpoint_every": 20, "eval_every": 20},
              "pretrain-stage2": {"seq_len": 64, "steps": 20, "checkpoint_every": 10, "eval_every": 10}})

POST_TRAIN = Pipeline(
    name="post-train", tags=("post-training",),
    description="Post-training on the latest model and data: instruct-evolve -> sft-data (stratified); "
                "preference-data -> reward-model; rm-filter of the SFT data (mean - std per category) -> sft "
                "(packing, best epoch by evaluation).",
    # the edges: sft-data reads instruct-evolve, reward-model the preference pairs, rm-filter the SFT data
    # and scores with the reward model this run trained, sft trains on what rm-filter kept
    stages=("instruct-evolve", "sft-data", "preference-data", "reward-model", "rm-filter", "sft"),
    # sample-sized: the sample's judge items and evolutions are some dozens of conversations at most
    defaults={"sft-data": {"target_size": 400}},
    leave_out={"reward-model": ("The reward model trained on preference_data's pairs, which rm_filter scores with; "
                                "null: train none (preference_data is skipped, and rm_filter uses its own "
                                "`reward_model`).", ("preference-data",)),
               "rm-filter": ("The reward-model filter of the SFT data before SFT; null: SFT on the unfiltered "
                             "sft-data.", ())},
    stands_in={"rm-filter": "sft-data"})

PIPELINES = (DATA, MODEL, POST_TRAIN)
data = pipeline_flow(DATA)
model = pipeline_flow(MODEL)
post_train = pipeline_flow(POST_TRAIN)
DataParams = data.params_model
ModelParams = model.params_model
PostTrainParams = post_train.params_model
