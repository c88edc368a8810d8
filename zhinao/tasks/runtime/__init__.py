"""Execution plumbing shared by every stage: Ray start-up and split-parallel shard writing."""
