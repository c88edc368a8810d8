"""Pretraining runs as stage work: the run spec, the launch with progress, and the run report."""
