"""One rank of the ZeRO-3 memory probe (tests/test_pretrain.py): `python -m tests.zero3_probe INIT OUT`
with the torch.distributed environment set. It builds the model from the Llama folder INIT the way
zhinao.model.train does (zero.Init, then `init_from`) and gathers it back for export (`gathered_state`),
while recording how many parameter elements this rank holds whole at any moment: every
GatheredParameters context is watched, and on entering one the full-size (non-partitioned) data of
all the model's parameters is counted. Writes OUT/rank-<r>.json."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist


def main(init: str, out: str) -> None:
    import deepspeed

    from zhinao.model import train
    from zhinao.model.ds_config import deepspeed_config
    from zhinao.model.train_spec import TrainSpec

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    from zhinao.model.ds_ops import guard_jit_builds

    guard_jit_builds()
    deepspeed.init_distributed(dist_backend="gloo")
    models, loads = [], []
    record = {"phase": None, "phases": {}}

    def whole(model) -> int:
        """Elements of the model's parameters this rank holds at full size right now (a partitioned
        ZeRO-3 parameter's data is empty; its shard lives in ds_tensor)."""
        return sum(p.data.numel() for p in model.parameters())

    real_gathered = deepspeed.zero.GatheredParameters

    class Watched(real_gathered):
        def __enter__(self):
            out = super().__enter__()
            phase = record["phases"].setdefault(record["phase"], {"max_whole": 0, "gathered": [], "contexts": 0})
            phase["contexts"] += 1
            phase["gathered"] += [p.ds_id for p in getattr(self, "params", [])]
            phase["max_whole"] = max(phase["max_whole"], whole(models[0]))
            return out

    def built(cfg):
        models.append(real_transformer(cfg))
        return models[-1]

    def hf_weights(folder):
        loads.append(str(folder))
        return real_hf_weights(folder)

    real_transformer, real_hf_weights = train.Transformer, train.hf_weights
    deepspeed.zero.GatheredParameters = Watched
    train.Transformer, train.hf_weights = built, hf_weights

    spec = TrainSpec(data="", out="", checkpoints="", zero_stage=3, init_from=init, seq_len=64, micro_batch=1,
                     precision="fp32")
    record["phase"] = "init_from"
    model = train.build_model(spec, deepspeed_config(spec, world))
    after_init = whole(model)
    record["phase"] = "export"
    state = train.gathered_state(SimpleNamespace(module=model), 3)
    after_export = whole(model)

    params = list(model.parameters())
    result = {"rank": rank, "world": world, "hf_loads": loads, "phases": record["phases"],
              "full_model": sum(p.ds_numel for p in params), "largest_param": max(p.ds_numel for p in params),
              "param_ids": sorted(p.ds_id for p in params), "whole_after_init": after_init,
              "whole_after_export": after_export, "exported": state is not None}
    if state is not None:
        expected = real_hf_weights(init)
        result["export_keys_match"] = set(state) == set(expected)
        result["export_equal"] = result["export_keys_match"] and all(
            torch.equal(state[k], expected[k]) for k in expected)
    Path(out, f"rank-{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
