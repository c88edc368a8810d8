#!/usr/bin/env bash
# One command: set up, then run the main job (the data pipeline on the embedded sample crawl, then
# the model pipeline: tokenizer, token shards, pretraining stages 1 and 2, then post-training:
# instruction evolution, SFT data, preference pairs, the reward model, the reward-model filter of
# the SFT data, SFT of the stage-2 model on what it kept; then alignment: GRPO, iterative on-policy
# DPO and LoRA DPO from the SFT model, merged by interpolation then extrapolation, every model
# evaluated and compared, the chat model chosen; then evaluations of the stage-2 model and the
# default generator) and show what it produced.
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
zhinao run evaluate -p model=smollm2-135m-instruct -p niah_lengths=384   # the default generator (NIAH at 384 tokens only: CPU time)
zhinao compare pretrain-stage2 sft smollm2-135m-instruct
zhinao datasets
zhinao lineage          # the newest version's upstream graph, down to the crawl files
echo "The runs, their logs and artifacts: . .venv/bin/activate && zhinao server  (UI on http://127.0.0.1:4200)"
