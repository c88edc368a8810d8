#!/usr/bin/env bash
# One command: set up, then run the main job (the data pipeline on the embedded sample crawl, then
# the model pipeline: tokenizer, token shards, pretraining stages 1 and 2, then post-training:
# instruction evolution, SFT data, preference pairs, the reward model, the reward-model filter of
# the SFT data, SFT of the stage-2 model on what it kept; then alignment: GRPO, iterative on-policy
# DPO and LoRA DPO from the SFT model, merged by interpolation then extrapolation, every model
# evaluated and compared, the chat model chosen; then the evaluation of the stage-2 model, compared
# with the SFT and chat models; then long-context extension of the chat model in two phases, 256 ->
# 1024 -> 2048 tokens with the RoPE base raised, the second split over 2 sequence-parallel ranks,
# each evaluated at lengths its parent could not reach) and show what it produced.
# Rerunning is a cache hit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deployments/local/setup.sh
. .venv/bin/activate
zhinao run data "$@"
zhinao run model
zhinao run post-train
zhinao run align                                       # evaluates the SFT model and every aligned model too
zhinao run evaluate                                    # the stage-2 model
zhinao compare pretrain-stage2 sft chat-model          # chat-model: the model align chose, with its evaluation
zhinao run long-context                                # long-data, then two long-phase runs, each evaluated
zhinao compare --ancestors 2 long-phase                # the chat model and both phases: NIAH by length, loss by position
zhinao datasets
zhinao lineage chat-model --depth 2   # the chat model's lineage, two levels (it prints the command for the whole graph)
zhinao trace --reason near_duplicate  # one document's way through the stages: why it was dropped, its kept twin
echo "Browse the lineage (graph, versions, plots, diffs, traces): . .venv/bin/activate && zhinao ui  (http://127.0.0.1:8765)"
echo "The runs, their logs and artifacts: . .venv/bin/activate && zhinao server  (UI on http://127.0.0.1:4200)"
