"""instruct-evolve: ROUGE-L and the self-instruct filter, the seed tasks, constraint evolution that
keeps only responses the IFEval checkers pass, the stage on a stand-in generator whose answers are
known, and a tiny run on the real default generator."""
import random

import pytest

from zhinao.tasks.evolve.stage import INSTRUCT_EVOLVE_STAGE, InstructEvolveParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.chat.schema import message_problem
from zhinao.tasks.eval.ifeval import complies
from zhinao.tasks.evolve.constraints import DEFAULT_CONSTRAINTS, constrained, draw, record_of
from zhinao.tasks.evolve.jobs import parse_constrained, parse_evol
from zhinao.tasks.evolve.rouge import RougePool, lcs_length, rouge_l
from zhinao.tasks.evolve.rounds import _new_tasks
from zhinao.tasks.evolve.seeds import load_seeds, pick
from zhinao.tasks.generate import engine
from zhinao.tasks.generate.api import Completion
from zhinao.tasks.home import open_store
from tests.evolve_standin import StandIn


def _lcs_table(a, b):
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            t[i + 1][j + 1] = t[i][j] + 1 if x == y else max(t[i][j + 1], t[i + 1][j])
    return t[-1][-1]


def test_bit_parallel_lcs_equals_the_table():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]     # past 64 units: big-integer masks
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == _lcs_table(a, b)


def test_rouge_l_agrees_with_rouge_score_on_english_and_compares_chinese_characters():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    pairs = [("Write a poem about the sea.", "Write a short poem about the deep blue sea."),
             ("Explain how photosynthesis works in plants", "Explain how a bicycle gear works"),
             ("Give three tips for saving money", "List five ways to cook rice")]
    for ref, cand in pairs:
        assert rouge_l(ref, cand) == pytest.approx(scorer.score(ref, cand)["rougeL"].fmeasure)
    # rouge_score drops Han characters; here each is a unit: 9 and 10 of them, 8 shared in order
    assert rouge_l("写一首关于春天的诗。", "写一首关于秋天的短诗。") == pytest.approx(2 * 8 / (9 + 10))
    assert rouge_l("写一首诗", "写一首诗") == 1.0 and rouge_l("写一首诗", "") == 0.0


def test_the_self_instruct_filter_drops_tasks_too_close_to_the_pool_or_to_each_other():
    pool = RougePool()
    pool.add("seed-1", "Write a haiku about the first snow of winter.")
    rows = [{"id": "a", "instruction": "Write a haiku about the first snow in winter."},      # the seed again
            {"id": "b", "instruction": "Explain how tides are caused by the moon."},
            {"id": "c", "instruction": "Explain how the tides are caused by the moon."},     # b again
            {"id": "d", "instruction": "List three famous bridges and the cities they are in."}]
    kept, dropped = _new_tasks(rows, pool, 0.7)
    assert [r["id"] for r in kept] == ["b", "d"] and len(pool) == 3
    assert [(r["id"], r["drop_reason"]) for r in dropped] == [("a", "rouge_similar"), ("c", "rouge_similar")]
    score, closest = pool.most_similar("Explain why tides are caused by the moon")
    assert closest == "b" and score >= 0.7


def test_the_seed_file_and_a_balanced_deterministic_pick():
    seeds = load_seeds()
    assert len(seeds) >= 30 and {s["lang"] for s in seeds} == {"en", "zh"}
    assert len({s["id"] for s in seeds}) == len(seeds)
    few = pick(seeds, 4, 0, ["en", "zh"])
    assert [s["lang"] for s in few] == ["en", "zh", "en", "zh"] and few == pick(seeds, 4, 0, ["en", "zh"])
    assert few != pick(seeds, 4, 1, ["en", "zh"])
    assert {s["lang"] for s in pick(seeds, 0, 0, ["zh"])} == {"zh"}


def test_bad_seed_files_are_refused_with_the_line(tmp_path):
    bad = tmp_path / "seeds.jsonl"
    bad.write_text('{"id": "a", "lang": "en", "instruction": "Write a poem."}\n{"id": "b", "lang": "fr", '
                   '"instruction": "Écris un poème."}\n')
    with pytest.raises(ValueError, match=r"seeds.jsonl:2: lang must be one of"):
        load_seeds(bad)
    bad.write_text('{"id": "a", "lang": "en"}\n')
    with pytest.raises(ValueError, match=r"seeds.jsonl:1: a seed task needs"):
        load_seeds(bad)


def test_constraints_are_drawn_deterministically_without_conflicts():
    for k in range(40):
        lang = "zh" if k % 2 else "en"
        ids = draw(list(DEFAULT_CONSTRAINTS), lang, 3, f"0:1:item{k}")
        assert 1 <= len(ids) <= 3 and ids == draw(list(DEFAULT_CONSTRAINTS), lang, 3, f"0:1:item{k}")
        assert lang == "en" or not any(i.startswith("change_case:english") for i in ids)
        prompt, spec = constrained("Write a note to a friend.", ids, lang, f"0:1:item{k}")
        assert record_of(prompt, spec, lang).instruction_id_list == tuple(ids)   # add_constraints refuses conflicts


class _P:
    """The params the constraint job reads."""
    trim_truncated, min_response_chars, loose, constraint_attempts, seed = True, 5, False, 2, 0
    max_tokens, temperature, top_p = 64, 0.7, 0.95


def test_constraint_evolution_keeps_a_response_only_when_it_complies():
    prompt, spec = constrained("Describe your ideal weekend.", ["punctuation:no_comma", "startend:quotation"], "en",
                               "k")
    row = {"id": "r1-constraint-x", "round": 1, "method": "constraint", "lang": "en", "instruction": prompt,
           "constraints": spec, "evolved_from": "seed-en-01"}
    good = '"I would sleep late and then walk in the park with my dog."'
    comma = '"I would sleep late, then walk in the park."'
    unquoted = "I would sleep late and then walk in the park."
    (kept,) = parse_constrained(row, [Completion(comma, "stop"), Completion(good, "stop")], _P)
    assert kept["drop_reason"] is None and kept["response"] == good          # the second attempt complies
    assert complies(record_of(prompt, spec, "en"), kept["response"])
    (dropped,) = parse_constrained(row, [Completion(comma, "stop"), Completion(unquoted, "stop")], _P)
    assert dropped["drop_reason"] == "not_compliant"
    (cut,) = parse_constrained(row, [Completion('"I would', "length"), Completion("", "error")], _P)
    assert cut["drop_reason"] == "truncated"


class _Evol(_P):
    min_instruction_units, max_instruction_units, max_evol_similarity = 4, 150, 0.9


def test_evolved_instructions_are_checked_like_wizardlm_does():
    row = {"id": "r1-depth-s", "round": 1, "method": "evol-depth", "op": "reasoning", "lang": "en",
           "instruction": "Explain why the sky is blue.", "evolved_from": "s"}

    def parsed(text, finish="stop"):
        (out,) = parse_evol(row, [Completion(text, finish)], _Evol)
        return out["instruction"], out["drop_reason"]

    harder = "Explain why the sky is blue, reasoning step by step from how sunlight scatters in air."
    assert parsed(f"Rewritten instruction: {harder}\n\nThe sky is blue because...") == (harder, None)
    assert parsed("Rewritten instruction: Rewrite the instruction into a more demanding version.")[1] == \
        "leaked_template"
    assert parsed("Rewritten instruction: Explain why the sky is so blue.")[1] == "not_evolved"
    assert parsed("Rewritten instruction: Why?")[1] == "too_short"
    assert parsed("Rewritten instruction: Draw a picture of the sky and explain its colour.")[1] == "needs_media"
    assert parsed("Rewritten instruction: Explain why the sky", "length")[1] == "truncated"


# ---- the stage on a stand-in generator --------------------------------------------------------------
@pytest.fixture
def stand_in(smollm2, monkeypatch):
    gen = StandIn()
    monkeypatch.setattr(engine, "get_generator", lambda spec: gen)
    return gen


def test_the_stage_on_known_answers(stand_in):
    store = open_store()
    params = InstructEvolveParams(use_ray=False, audit=True, seed_tasks=4, self_instruct=2, evol_depth=3,
                                  evol_breadth=1, constraint_evol=4,
                                  constraint_ids=["punctuation:no_comma", "startend:quotation"])
    r = execute_stage(INSTRUCT_EVOLVE_STAGE, params)
    kept, dropped = store.open_arrow(r.ref).to_pylist(), store.open_arrow(r.audit_ref).to_pylist()
    seeds = {s["id"] for s in pick(load_seeds(), 4, 0, ["en", "zh"])}
    by = {m: [k for k in kept if k["origin"] == f"evolve:{m}"] for m in
          ("self-instruct", "evol-depth", "evol-breadth", "constraint")}
    # self-instruct: two new tasks per request, the repeated example dropped by ROUGE-L
    assert len(by["self-instruct"]) == 4 and all(k["evolved_from"] in seeds for k in kept)
    assert sum(d["drop_reason"] == "rouge_similar" and d["origin"] == "evolve:self-instruct" for d in dropped) == 2
    # depth: constraints, deepen, concretize in turn; the unchanged one gained nothing
    assert len(by["evol-depth"]) == 2 and [d["origin"] for d in dropped if d["drop_reason"] == "not_evolved"] == \
        ["evolve:evol-depth"]
    assert len(by["evol-breadth"]) == 1
    # constraints: the English answers comply and are kept, the Chinese ones break them
    assert by["constraint"] and all(k["lang"] == "en" for k in by["constraint"])
    for k in by["constraint"]:
        assert complies(record_of(k["messages"][0]["content"], k["constraints"], "en"), k["messages"][1]["content"])
    refused = [d for d in dropped if d["origin"] == "evolve:constraint"]
    assert len(refused) + len(by["constraint"]) == 4 and {d["drop_reason"] for d in refused} <= {"not_compliant"}
    assert all(d["lang"] == "zh" for d in refused)
    for k in kept:
        assert message_problem(k["messages"]) is None and k["round"] == 1 and k["lang"] in ("en", "zh")
    assert len({k["id"] for k in kept}) == len(kept)
    table = {row["method"]: row for row in r.stats["tables"]["methods"]}
    assert (table["self-instruct"]["requests"], table["self-instruct"]["responses"]) == (2, 4)
    assert (table["constraint"]["requests"], table["constraint"]["responses"]) == (4, 0)
    assert table["constraint"]["kept"] == len(by["constraint"])
    assert sum(row["kept"] for row in table.values()) == len(kept) == r.rows
    assert sum(r.stats["dropped"].values()) == len(dropped)
    calls = len(stand_in.calls)
    assert execute_stage(INSTRUCT_EVOLVE_STAGE, params).cache_hit and len(stand_in.calls) == calls
    sources = {s["name"] for s in store.resolve(r.ref).sources}
    assert {"template/evolve-self-instruct", "template/evolve-depth", "file/seeds.jsonl"} <= sources


def test_a_failed_attempt_resumes_from_its_finished_phases(smollm2, monkeypatch):
    gen, calls = StandIn(), []

    def flaky(spec):
        class Flaky:
            def generate(self, requests):
                calls.append(len(requests))
                if len(calls) == 3:
                    raise RuntimeError("worker lost mid-stage")
                return gen.generate(requests)
        return Flaky()

    monkeypatch.setattr(engine, "get_generator", flaky)
    params = InstructEvolveParams(use_ray=False, seed_tasks=4, constraint_ids=["punctuation:no_comma"])
    with pytest.raises(RuntimeError, match="worker lost"):
        execute_stage(INSTRUCT_EVOLVE_STAGE, params)
    r = execute_stage(INSTRUCT_EVOLVE_STAGE, params)
    # self-instruct and evol batches came back from the resume folder; constraint and responses ran
    assert r.stats["counters"]["batches_resumed"] == 2 and len(calls) == 3 + 2 and r.rows > 0


def test_a_judge_dataset_seeds_the_evolution(stand_in):
    import pyarrow as pa

    store = open_store()
    items = [{"id": "synth-1", "kind": "instruction", "prompt": "Plan a three-day trip to Kyoto for a family.",
              "response": "Day 1: temples ...", "lang": "en"}]
    ref = store.import_tables("judge", [pa.Table.from_pylist(items)]).ref
    params = InstructEvolveParams(use_ray=False, seed_tasks=1, langs=["en"], seed_dataset="judge", self_instruct=0,
                                  evol_depth=2, evol_breadth=0, constraint_evol=0)
    r = execute_stage(INSTRUCT_EVOLVE_STAGE, params, inputs={"judge": ref})
    kept = store.open_arrow(r.ref).to_pylist()
    assert "synth-1" in {k["evolved_from"] for k in kept} and ref in store.resolve(r.ref).parents
    docs = store.import_tables("rebalance", [pa.Table.from_pylist([{"id": "d", "text": "x"}])]).ref
    with pytest.raises(ValueError, match="neither a chat dataset"):
        execute_stage(INSTRUCT_EVOLVE_STAGE, params.model_copy(update={"seed_dataset": "rebalance"}),
                      inputs={"rebalance": docs})


def test_unknown_constraints_and_languages_are_refused():
    with pytest.raises(ValueError, match="unknown IFEval instruction id"):
        InstructEvolveParams(constraint_ids=["length_constraints:number_words", "no:such"])
    with pytest.raises(ValueError, match="langs must be"):
        InstructEvolveParams(langs=["fr"])


def test_a_tiny_run_on_the_default_generator(smollm2):
    store = open_store()
    params = InstructEvolveParams(use_ray=False, audit=True, seed_tasks=2, langs=["en"], self_instruct=1,
                                  new_per_request=2, evol_depth=1, evol_breadth=0, constraint_evol=1, constraint_attempts=1,
                                  max_tokens=40)
    r = execute_stage(INSTRUCT_EVOLVE_STAGE, params)
    kept, dropped = store.open_arrow(r.ref).to_pylist(), store.open_arrow(r.audit_ref).to_pylist()
    assert r.stats["counters"]["completion_tokens"] > 0 and kept + dropped
    for k in kept:
        assert message_problem(k["messages"]) is None and k["evolved_from"] and k["lang"] == "en"
        if k["origin"] == "evolve:constraint":
            assert complies(record_of(k["messages"][0]["content"], k["constraints"], "en"), k["messages"][1]["content"])
    assert all(d["drop_reason"] for d in dropped) and sum(r.stats["dropped"].values()) == len(dropped)
    assert {row["method"] for row in r.stats["tables"]["methods"]} == {"self-instruct", "evol-depth", "constraint"}
