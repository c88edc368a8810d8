"""zhinao-pipeline: the project's one import namespace.

Its folders (flows/, tasks/, model/, kernels/) live under this package so that no import name of
the project is one a dependency can install (Hugging Face's `kernels` comes with transformers) and
nothing at the repository root shadows an installed package when the root is on `sys.path`."""
