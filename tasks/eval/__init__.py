"""Model evaluation: benchmarks built from the pipeline's own data, scored offline."""
