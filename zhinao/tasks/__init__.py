"""The work of the pipeline: pure functions over documents and Arrow batches, run on Ray."""
