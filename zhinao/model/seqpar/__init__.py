"""Sequence parallelism: one long sequence split across ranks. Attention is the only layer that
needs the whole sequence; two backends give it: ring attention (ring.py: keys and values travel
around the ranks, partial results merged by log-sum-exp; any number of KV heads) and DeepSpeed's
Ulysses (all-to-all from sequence shards to head shards; needs heads divisible by the ranks). The
sequence is split zigzag (split.py) so causal work is balanced, and the loss is a sum over valid
tokens divided by their count across ranks (loss.py)."""
