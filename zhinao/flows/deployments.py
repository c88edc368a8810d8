"""prefect.yaml, generated from the declarations: one deployment per stage and pipeline, named,
described and tagged as declared. `python -m zhinao.app.generate` writes it; a test fails when the
checked-in file differs, so it is never edited by hand."""
from __future__ import annotations

import json

from .registry import targets

HEADER = """\
# GENERATED from the stage declarations by `python -m zhinao.app.generate`: do not edit.
# Prefect deployments of zhinao-pipeline: one per stage and per pipeline.
#   zhinao server &          # Prefect server on 127.0.0.1:4200 (SQLite under ZHINAO_HOME)
#   zhinao deploy            # creates the process work pool and every deployment below
#   zhinao worker &          # a process worker polling the pool
#   prefect deployment run 'ingest/default'
name: zhinao-pipeline
prefect-version: 3.8.8

build: null
push: null
pull:
  # The code runs from this checkout; `zhinao deploy` and `zhinao worker` set ZHINAO_REPO to it.
  - prefect.deployments.steps.set_working_directory:
      directory: "{{ $ZHINAO_REPO }}"

definitions:
  work_pools:
    process: &process
      name: zhinao-process
      work_queue_name: default
      job_variables: {}

deployments:
"""
# a pipeline's schedule is off until someone turns it on in the UI
SCHEDULE = ('    schedules:\n      - cron: "{cron}"\n        timezone: "UTC"\n'
            '        active: false      # enable in the UI to rerun on schedule (a cache hit when nothing changed)\n')


def render() -> str:
    out = [HEADER]
    for t in targets().values():
        out.append(f"  - name: default\n    entrypoint: {t.entrypoint}\n"
                   f"    description: {json.dumps(' '.join(t.description.split()), ensure_ascii=False)}\n"
                   f"    tags: [{', '.join((t.kind, *t.tags))}]\n    parameters: {{}}\n    work_pool: *process\n")
        if t.schedule:
            out.append(SCHEDULE.format(cron=t.schedule))
    return "".join(out)
