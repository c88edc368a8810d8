"""The model's shape as one dataclass, and named presets from a CPU-test size to 360Zhinao2-7B."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 32_000
    dim: int = 512
    n_layers: int = 8
    n_heads: int = 8
    n_kv_heads: int = 2              # GQA: query heads share n_heads / n_kv_heads key/value heads
    ffn_dim: int = 0                 # 0: 8/3 * dim rounded up to a multiple of `multiple_of` (SwiGLU)
    multiple_of: int = 256
    rope_base: float = 10_000.0
    norm_eps: float = 1e-5
    max_seq_len: int = 2048
    extra: dict = field(default_factory=dict, compare=False)   # free-form notes (e.g. the preset's name)

    def __post_init__(self):
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not a multiple of n_heads {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}")
        if (self.dim // self.n_heads) % 2:
            raise ValueError(f"head dim {self.dim // self.n_heads} must be even for RoPE")
        if self.ffn_dim == 0:
            object.__setattr__(self, "ffn_dim", self.multiple_of * math.ceil(8 * self.dim / 3 / self.multiple_of))

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def num_params(self) -> int:
        attn = self.dim * self.head_dim * (2 * self.n_heads + 2 * self.n_kv_heads)
        ffn = 3 * self.dim * self.ffn_dim
        per_layer = attn + ffn + 2 * self.dim
        return 2 * self.vocab_size * self.dim + self.n_layers * per_layer + self.dim    # untied in/out embeddings

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, ModelConfig] = {
    # CPU tests and the ablation environment
    "tiny": ModelConfig(vocab_size=4096, dim=128, n_layers=4, n_heads=4, n_kv_heads=2, multiple_of=32,
                        max_seq_len=256),
    "small": ModelConfig(vocab_size=32_000, dim=512, n_layers=8, n_heads=8, n_kv_heads=2, max_seq_len=1024),
    "1b": ModelConfig(vocab_size=158_464, dim=2048, n_layers=22, n_heads=16, n_kv_heads=4, max_seq_len=4096),
    # the 360Zhinao2-7B shape: 4096 wide, 32 layers, 32 heads, GQA key/value heads set per preset
    "7b": ModelConfig(vocab_size=158_464, dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, max_seq_len=4096),
}


def preset(name: str, **overrides) -> ModelConfig:
    """A named shape, with any field overridden (`preset("7b", n_kv_heads=4)`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(PRESETS)}")
    return replace(PRESETS[name], extra={"preset": name}, **overrides)
