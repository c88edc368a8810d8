"""Small-model data ablations: the same model trained on several data versions, compared on one validation set."""
