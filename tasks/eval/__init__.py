"""Evaluation of trained models: benchmarks and their scoring."""
