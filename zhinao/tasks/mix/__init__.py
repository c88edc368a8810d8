"""The pretraining mixture: sources resolved by token shares into shuffled Parquet shards."""
