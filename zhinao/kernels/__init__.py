"""Triton kernels (RMSNorm, RoPE, SwiGLU, cross-entropy), each beside its PyTorch reference.

model/ picks a kernel where the device allows and the reference elsewhere.
"""
