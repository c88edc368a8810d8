"""The paper calculation: FLOPs per token, tokens/s at an MFU, memory per ZeRO stage."""
import pytest

from zhinao.model.config import preset
from zhinao.model.flops import PEAK_FLOPS, flops_per_token, tokens_per_second, zero_memory_gb


def test_7b_figures():
    cfg = preset("7b")
    f = flops_per_token(cfg, 4096)
    assert f == pytest.approx(6 * cfg.num_params() + 12 * 32 * 4096 * 4096)
    assert 45e9 < f < 50e9
    rate = tokens_per_second(cfg, 4096, 0.45, PEAK_FLOPS["h100-sxm"])
    assert 8_500 < rate < 10_000                                         # per GPU
    mem = [zero_memory_gb(cfg, s, 64) for s in range(4)]
    assert mem[0] == pytest.approx(16 * cfg.num_params() / 1e9)          # 16 bytes per parameter
    assert mem[0] > mem[1] > mem[2] > mem[3] and mem[3] == pytest.approx(mem[0] / 64)
    with pytest.raises(ValueError, match="does not exist"):
        zero_memory_gb(cfg, 4, 8)
