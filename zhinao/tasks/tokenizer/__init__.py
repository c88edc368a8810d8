"""The project's tokenizer: byte-level BPE trained on the pretraining mix, and its compression report."""
