"""Kernel or reference: Triton kernels run on CUDA tensors; everything else takes the PyTorch
reference. ZHINAO_KERNELS=triton forces the kernels (with TRITON_INTERPRET=1 they run on CPU, which
is how the tests check them), ZHINAO_KERNELS=reference forces the references."""
from __future__ import annotations

import importlib.util
import os

import torch

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("triton",), "env": ("ZHINAO_KERNELS",)}


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def use_triton(x: torch.Tensor) -> bool:
    mode = os.environ.get("ZHINAO_KERNELS", "auto")
    if mode == "reference" or not triton_available():
        return False
    return mode == "triton" or x.is_cuda
