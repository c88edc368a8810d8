"""Supervised fine-tuning: chat rendering with assistant-token masks, packing, the per-epoch
evaluations and the choice of the best epoch, and the stage's run around the training loop."""
