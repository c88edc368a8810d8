"""instruct-evolve: new and harder instructions with their responses, from seed tasks (the package's
seed file, optionally a chat or judge dataset): self-instruct, Evol-Instruct in depth and breadth, and
constraint auto-evolution checked by the IFEval-style checkers. A chat dataset; every item names what
it evolved from."""
from pydantic import Field, field_validator

from zhinao.tasks.bounds import ordered
from zhinao.tasks.chat.schema import LANGS, check_langs
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.evolve.constraints import DEFAULT_CONSTRAINTS, unknown_constraints
from zhinao.tasks.evolve.jobs import WORK
from zhinao.tasks.evolve.prompts import TEMPLATES
from zhinao.tasks.evolve.rounds import SCHEMA, evolve
from zhinao.tasks.evolve.seeds import dataset_seeds, load_seeds, pick
from zhinao.tasks.generate.generation import GENERATION_CODE, GenerationParams, generator, model_plan, template_sources
from zhinao.tasks.generate.phase import run_phase
from zhinao.tasks.generate.prompts import templates_key
from zhinao.tasks.generate.rows import WriteRows, stable_rank
from zhinao.tasks.params import NOT_IN_KEY
from zhinao.tasks.stats import StageStats


class InstructEvolveParams(GenerationParams):
    seed_tasks: int = Field(6, ge=0, description="Seed tasks taken from the package's seed file (languages in turn, "
                                                 "a deterministic pick); 0: all of them.")
    seed_dataset: str | None = Field(None, description="A chat dataset (its first user turns) or a judge/synth "
                                     "dataset (its prompts) whose items join the seed tasks (DATASET[@VERSION]).")
    seed_rows: int = Field(0, ge=0, description="Items taken from seed_dataset (a deterministic sample); 0: all.")
    langs: list[str] = Field(list(LANGS), description=f"Languages of the seeds used, from {list(LANGS)}.")
    rounds: int = Field(1, gt=0, description="Rounds; a round evolves the instructions the previous one made.")
    self_instruct: int = Field(2, ge=0, description="Self-instruct requests per round (each asks for "
                                                   "new_per_request tasks).")
    examples: int = Field(3, gt=0, description="Instructions of one language shown per self-instruct request.")
    new_per_request: int = Field(3, gt=0, le=20)
    evol_depth: int = Field(2, ge=0, description="Frontier instructions made harder per round (Evol-Instruct depth: "
                                                "add constraints, deepen, concretize, more reasoning, in turn).")
    evol_breadth: int = Field(1, ge=0, description="Frontier instructions that inspire a new, rarer one per round.")
    constraint_evol: int = Field(2, ge=0, description="Frontier instructions given verifiable constraints per round.")
    max_constraints: int = Field(2, gt=0, le=5, description="Constraints per instruction: 1 to this many, drawn.")
    constraint_ids: list[str] = Field(list(DEFAULT_CONSTRAINTS), description="IFEval instruction ids to draw from.")
    constraint_attempts: int = Field(2, gt=0, le=4, description="Responses tried per constrained instruction (the "
                                     "first greedy); the first that complies is kept.")
    loose: bool = Field(False, description="Judge compliance by IFEval's loose variants instead of strictly.")
    rouge_threshold: float = Field(0.7, gt=0, le=1, description="A new task whose ROUGE-L F1 with any instruction "
                                   "in the pool reaches this is dropped (self-instruct's 0.7).")
    max_evol_similarity: float = Field(0.9, gt=0, le=1, description="A depth evolution this similar (ROUGE-L) to "
                                       "its original gained nothing and is dropped.")
    near_dup_threshold: float = Field(0.7, gt=0, le=1, description="Estimated Jaccard of word 3-grams of "
                                      "instruction + response above which a later item is dropped.")
    min_instruction_units: int = Field(4, gt=0, description="Shortest instruction kept, in words (Han characters "
                                                            "count one each).")
    max_instruction_units: int = Field(150, gt=0)
    min_response_chars: int = Field(20, gt=0)
    trim_truncated: bool = Field(True, description="A response cut at max_tokens is trimmed to its last complete "
                                 "paragraph or sentence instead of dropped.")
    rows_per_split: int = Field(32, gt=0, description="Rows per Ray task / actor call.", json_schema_extra=NOT_IN_KEY)
    max_tokens: int = Field(128, gt=0)

    _ordered = ordered(("min_instruction_units", "max_instruction_units"))

    _langs = field_validator("langs")(lambda cls, v: check_langs(v))

    @field_validator("constraint_ids")
    @classmethod
    def _constraints(cls, v: list[str]) -> list[str]:
        unknown = unknown_constraints(v)
        if unknown or not v:
            raise ValueError(f"unknown IFEval instruction id(s) {unknown} (or none given)")
        return v


def _inputs(p: InstructEvolveParams) -> tuple[str, ...]:
    return (p.seed_dataset,) if p.seed_dataset else ()


def plan(p: InstructEvolveParams, parents, store) -> Plan:
    info, sources, model_parents = model_plan(p, store)
    seeds = pick(load_seeds(), p.seed_tasks, p.seed, p.langs)
    for parent in parents:
        names = {f["name"] for f in parent.schema}
        if parent.kind != "dataset" or not {"messages", "prompt"} & names or "id" not in names:
            raise ValueError(f"instruct-evolve: seed dataset {parent.ref} is neither a chat dataset (id, messages) "
                             f"nor a judge/synth one (id, prompt); it has columns {sorted(names)}")
        table = store.open_arrow(parent, columns=[c for c in ("id", "lang", "messages", "prompt") if c in names])
        rows = sorted(table.to_pylist(), key=lambda r: stable_rank(r["id"], f"seed-rows:{p.seed}"))
        seeds += dataset_seeds(rows[:p.seed_rows] if p.seed_rows else rows, p.langs)
    if not seeds:
        raise ValueError(f"instruct-evolve: no seed tasks in the languages {p.langs}")
    return Plan(splits=[], sources=sources + template_sources(templates_key(TEMPLATES)), schema=SCHEMA,
                info=info | {"seeds": seeds}, parents=model_parents)


def run(ctx):
    p, seeds = ctx.params, ctx.plan.info["seeds"]
    stats = StageStats()
    with generator(ctx) as spec:
        items, dropped, table = evolve(
            seeds, p, lambda job, rows, name: run_phase(ctx, spec, job, rows, WORK, name, stats, p.rows_per_split))
    results = ctx.final(WriteRows(), [{"rows": items + dropped, "schema": SCHEMA}], desc="write")
    out = results[0].stats
    out.merge(stats)
    out.count("rows_in", len(seeds))
    out.count("seed_tasks", len(seeds))
    for it in items:
        out.observe("origin", it["origin"])
        out.observe("lang", it["lang"])
    out.table("methods", table)
    return results


INSTRUCT_EVOLVE_STAGE = Stage(
    name="instruct-evolve", tags=("post-training", "generation"), params=InstructEvolveParams, plan=plan, process=WriteRows(), schema=SCHEMA, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.evolve", "zhinao.tasks.chat", "zhinao.tasks.generate.neardup"), inputs=_inputs,
    description="Self-instruct, Evol-Instruct (depth, breadth) and constraint auto-evolution (kept when the IFEval "
                "checkers say the response complies) from seed tasks; a chat dataset with evolved_from.")
