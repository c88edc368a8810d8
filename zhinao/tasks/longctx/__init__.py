"""long-phase and the long-context pipeline: a model extended to longer contexts in phases."""
