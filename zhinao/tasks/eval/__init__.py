"""Evaluation: log-likelihood and generation tasks over model versions or HF folders."""
