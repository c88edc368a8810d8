"""Token shards: the mixture tokenized and packed into memory-mappable files for pretraining."""
