"""Instruction evolution (the instruct-evolve stage): self-instruct from seed tasks, Evol-Instruct in
depth and breadth, and constraint auto-evolution kept only when the IFEval-style checkers agree."""
