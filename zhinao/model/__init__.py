"""GQA transformer, tokenizer, DeepSpeed training, LR schedules, checkpoints and HF export.

Reads token shards from the store and writes model versions to it (DESIGN.md, "Models and generators").
"""
