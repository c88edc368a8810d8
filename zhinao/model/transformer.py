"""A dense GQA transformer, readable top to bottom: token embeddings -> n_layers x (RMSNorm ->
grouped-query attention with RoPE -> residual, RMSNorm -> SwiGLU -> residual) -> RMSNorm -> untied
output projection. Weights are laid out like Hugging Face Llama (same shapes, same rotate-half RoPE),
so export is a rename (zhinao/model/hf.py). RMSNorm, RoPE, SwiGLU and the loss go through kernels/: Triton
on CUDA, the PyTorch references elsewhere. Packed SFT rows may restart positions per sample and keep
attention within each sample (document masking); without them the forward is the plain causal one.
A sequence split over sequence-parallel ranks (`split`, zhinao/model/seqpar) attends over the whole
sequence through the ring or Ulysses and returns its share of the loss, computed in chunks."""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from zhinao.kernels.cross_entropy import cross_entropy
from zhinao.kernels.rmsnorm import rmsnorm
from zhinao.kernels.rope import rope as apply_rope
from zhinao.kernels.swiglu import swiglu

from .config import ModelConfig
from .seqpar.attention import Split, sequence_parallel_attention
from .seqpar.loss import chunked_loss, token_mean


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rmsnorm(x, self.weight, self.eps)


def rope_tables(head_dim: int, seq_len: int, base: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, (seq_len, head_dim): each frequency twice, for the rotate-half layout."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
    freqs = torch.outer(torch.arange(seq_len, dtype=torch.float32, device=device), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def document_mask(doc_ids: torch.Tensor) -> torch.Tensor:
    """(batch, 1, seq, seq) boolean attention mask: causal, and only within a token's own document."""
    t = doc_ids.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=doc_ids.device).tril()
    return (doc_ids[:, :, None] == doc_ids[:, None, :]).logical_and(causal)[:, None]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, split: Split | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if split is not None:
            out = sequence_parallel_attention(split.backend, q, k, v, split.index, split.doc, split.group)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None,
                                                 enable_gqa=self.n_kv_heads != self.n_heads)
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(swiglu(self.w1(x), self.w3(x)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn = FeedForward(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, split: Split | None = None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, mask, split)
        return x + self.ffn(self.ffn_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None,
                positions: torch.Tensor | None = None, doc_ids: torch.Tensor | None = None,
                split: Split | None = None, loss_chunk: int = 4096):
        """tokens: (batch, seq). Returns logits (batch, seq, vocab), and the mean next-token
        cross-entropy when targets are given (-100 = ignore). positions (batch, seq): each token's
        RoPE position (default 0..seq-1); doc_ids (batch, seq): its document, which attention does
        not leave (both for packed rows of several samples). split: these tokens are this rank's
        part of longer sequences (positions required; split.doc the documents); then only the loss
        is returned, (None, this rank's share of the mean over all ranks' targets), from logits
        made `loss_chunk` tokens at a time."""
        t = tokens.shape[1]
        if split is not None:
            if doc_ids is not None:          # the documents of a split row travel with the split
                if split.doc is not None and not torch.equal(split.doc, doc_ids):
                    raise ValueError("doc_ids and split.doc disagree: give this rank's documents once")
                split = replace(split, doc=doc_ids)
            return None, self._split_loss(tokens, targets, positions, split, loss_chunk)
        if t > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {t} tokens is longer than max_seq_len {self.cfg.max_seq_len}")
        if positions is None:
            cos, sin = rope_tables(self.cfg.head_dim, t, self.cfg.rope_base, tokens.device)
        else:   # one table per row, looked up at its positions
            cos, sin = rope_tables(self.cfg.head_dim, self.cfg.max_seq_len, self.cfg.rope_base, tokens.device)
            cos, sin = cos[positions], sin[positions]
        mask = None if doc_ids is None else document_mask(doc_ids)
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.output(self.norm(x))
        if targets is None:
            return logits
        loss = cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    def _split_loss(self, tokens, targets, positions, split: Split, chunk: int) -> torch.Tensor:
        if positions is None:
            raise ValueError("a sequence split over sequence-parallel ranks needs its position ids (each token's "
                             "RoPE position); this batch has none")
        if targets is None:
            raise ValueError("a split sequence is run for its loss: give targets")
        if int(positions.max()) >= self.cfg.max_seq_len:
            raise ValueError(f"position {int(positions.max())} is beyond max_seq_len {self.cfg.max_seq_len}")
        cos, sin = rope_tables(self.cfg.head_dim, self.cfg.max_seq_len, self.cfg.rope_base, tokens.device)
        cos, sin = cos[positions], sin[positions]
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, None, split)
        total, count = chunked_loss(self.norm(x), self.output.weight, targets, chunk)
        return token_mean(total, count, split.group)
