"""The app layer: what people use (the command line, the lineage web page, the Prefect API server
it starts, generated files), over the flows (zhinao/flows) and the stages (zhinao/tasks)."""
