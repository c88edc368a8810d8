"""Prefect flows: wiring only. A stage flow reads input versions, runs tasks, commits one version."""
