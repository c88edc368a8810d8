"""One evaluation: each task over a model, giving per-item rows (one schema for every task) and
scores per task and group. Generation tasks go through the generator interface (transformers /
vLLM / an endpoint); log-likelihood tasks run in process on the model, or on the prompt logprobs
of the vLLM server the generation uses (backend.py)."""
from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from ..generate.api import Request
from ..generate.service import GenSpec, choose_backend, get_generator
from . import defaults, gsm8k, perplexity
from .backend import loglik_backend, open_scorer
from .mc_data import read_benchmark
from .multiple_choice import MCSetup, accuracy, score_items
from .scoring import LoglikScorer

log = logging.getLogger("zhinao.eval")

TASKS = ("perplexity", "mc", "gsm8k", "ifeval", "niah")
SCHEMA = pa.schema([("task", pa.string()), ("group", pa.string()), ("item", pa.string()),
                    ("prediction", pa.string()), ("target", pa.string()), ("correct", pa.bool_()),
                    ("score", pa.float64()), ("detail", pa.string())])


def row(task: str, group: str, item: Any, prediction: Any = "", target: Any = "", correct: bool | None = None,
        score: float | None = None, **detail: Any) -> dict[str, Any]:
    return {"task": task, "group": group, "item": str(item), "prediction": str(prediction), "target": str(target),
            "correct": correct, "score": None if score is None else float(score),
            "detail": json.dumps(detail, ensure_ascii=False, default=str)}


def run_perplexity(p: Any, model: LoglikScorer, docs: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(rows, table by language/topic/source, table by position)."""
    scored = perplexity.score_documents(docs, model, batch_size=p.loglik_batch_size, max_chars=p.perplexity_max_chars)
    rows = [row("perplexity", d.get("lang") or "", d.get("id", i), target="", score=d["nll"] / (d["bytes"] * 0.6931471805599453),
                tokens=d["tokens"], bytes=d["bytes"], nll=d["nll"], topic=d.get("topic"), source=d.get("source"))
            for i, d in enumerate(scored)]
    return rows, perplexity.aggregate(scored, by=("lang", "topic", "source")), perplexity.by_position(scored)


def mc_sets(p: Any) -> tuple[dict[str, list], dict[str, list], str]:
    if p.mc_path:
        test = read_benchmark(p.mc_path, "test", p.mc_subjects or None)
        dev = read_benchmark(p.mc_path, "dev", list(test)) if p.mc_shots else {s: [] for s in test}
        return test, dev, p.mc_lang
    made = defaults.arithmetic_mc({s: p.mc_items + p.mc_shots for s in ("addition", "subtraction", "multiplication")},
                                  seed=p.seed)
    return {s: v[p.mc_shots:] for s, v in made.items()}, {s: v[:p.mc_shots] for s, v in made.items()}, "en"


def run_mc(p: Any, model: LoglikScorer) -> tuple[list[dict], list[dict]]:
    test, dev, lang = mc_sets(p)
    setup = MCSetup(shots=p.mc_shots, lang=lang)
    results = []
    for subject, items in test.items():
        items = items[:p.limit] if p.limit else items
        results += score_items(items, dev.get(subject, []), setup, model, batch_size=p.loglik_batch_size)
    rows = [row("mc", r["subject"], f"{r['subject']}/{r['index']}", r["pred"], r["answer"], r["correct"],
                float(r["correct_norm"]), pred_norm=r["pred_norm"], logprobs=r["logprobs"]) for r in results]
    acc = accuracy(results)
    table = [{"subject": "overall", **acc["overall"]}] + [{"subject": s, **v} for s, v in acc["subjects"].items()]
    return rows, table


def _generate(gen, prompts: list[str], p: Any, max_tokens: int, stop: tuple[str, ...] = ()) -> list[str]:
    reqs = [Request.chat(text, max_tokens=max_tokens, temperature=0.0, seed=p.seed, stop=stop) for text in prompts]
    return [c.text for c in gen.generate(reqs)]


def run_gsm8k(p: Any, gen) -> tuple[list[dict], list[dict]]:
    if p.gsm8k_path:
        items = gsm8k.read_jsonl(p.gsm8k_path)
        shots = gsm8k.read_jsonl(p.gsm8k_shots_path)[:p.gsm8k_shots] if p.gsm8k_shots_path else []
    else:
        made = defaults.word_problems(p.gsm8k_items + p.gsm8k_shots, seed=p.seed)
        shots, items = made[:p.gsm8k_shots], made[p.gsm8k_shots:]
    items = items[:p.limit] if p.limit else items
    texts = _generate(gen, [gsm8k.prompt(it, shots) for it in items], p, p.max_tokens, gsm8k.STOP)
    results = [gsm8k.verdicts(it, t) for it, t in zip(items, texts)]
    rows = [row("gsm8k", "all", r["index"], r["flexible"], r["target"], r["flexible_match"], float(r["strict_match"]),
                strict=r["strict"], response=t) for r, t in zip(results, texts)]
    return rows, [gsm8k.accuracy(results)]


def run_ifeval(p: Any, gen) -> tuple[list[dict], list[dict]]:
    from . import ifeval

    records = ifeval.read_inputs(p.ifeval_path) if p.ifeval_path else ifeval.default_prompts()
    records = records[:p.limit] if p.limit else records
    texts = _generate(gen, [r.prompt for r in records], p, p.max_tokens)
    summary, results = ifeval.evaluate(records, {r.prompt: t for r, t in zip(records, texts)})
    rows = [row("ifeval", res.lang, res.key, "", "", all(res.strict), sum(res.loose) / len(res.loose),
                **res.to_json(), response=t) for res, t in zip(results, texts)]
    table = [_ifeval_row("all", summary)] + [_ifeval_row(lang, s) for lang, s in summary.get("by_lang", {}).items()]
    return rows, table


def _ifeval_row(lang: str, s: dict) -> dict:
    return {"lang": lang, "prompts": s["prompts"], "instructions": s["instructions"],
            "strict_prompt": s["strict"]["prompt_level"], "strict_instruction": s["strict"]["instruction_level"],
            "loose_prompt": s["loose"]["prompt_level"], "loose_instruction": s["loose"]["instruction_level"]}


def run_niah(p: Any, answer: Callable[[], Any] | LoglikScorer, texts: list[str], tokenizer, plot: Path,
             limit: tuple[int | None, str] = (None, "")) -> tuple[list[dict], list[dict], Path | None, list[dict]]:
    """(rows, cells, heatmap or None, skipped lengths): lengths over the model's context (`limit`:
    tokens, where the figure comes from) are not run. `answer`: a function opening the generator
    (opened only for the lengths run), or a scorer (teacher-forced: no generation)."""
    from . import niah

    langs = p.niah_langs or niah.langs_held(texts)
    if not langs:
        raise ValueError("niah: the held-out text holds no English or Chinese text to build a haystack from")
    lengths, over = niah.fitting_lengths(p.niah_lengths, limit[0])
    per_length = p.niah_depths * len(langs) * len(p.niah_variants)
    skipped = [{"length": n, "limit": limit[0], "limit_from": limit[1], "items": per_length} for n in over]
    if over:
        log.warning("niah: context length(s) %s skipped (%d items): the model takes at most %d tokens (%s)",
                    ", ".join(map(str, over)), per_length * len(over), limit[0], limit[1])
    if not lengths:
        return [], [], None, skipped
    items = niah.build_items(texts, lengths=lengths, depths=niah.depth_grid(p.niah_depths),
                             langs=tuple(langs), variants=tuple(p.niah_variants), tokenizer=tokenizer,
                             seed=p.seed, reserve=64)
    if isinstance(answer, LoglikScorer):
        results = niah.teacher_forced(items, answer, tokenizer, batch_size=p.loglik_batch_size)
    else:
        results = niah.score_items(items, _generate(answer(), [it["prompt"] for it in items], p, 32))
    rows = [row("niah", f"{r['lang']}/{r['variant']}", r["id"], r["response"], r["answer"], r["found"], r["score"],
                length=r["length"], depth=r["depth"], method=r["method"]) for r in results]
    summary = niah.summarize(results)
    return rows, summary["cells"], niah.plot_heatmap(results, plot), skipped


def run_suite(p: Any, model_path: str, service: Callable[[], GenSpec], plots: Path,
              docs: list[dict] | None = None) -> dict[str, Any]:
    """Run p.tasks on `docs` (held-out text; default: the embedded held-out articles). `service`
    opens the generation backend (once) and gives its spec. {"rows": [...], "tables": {task: rows},
    "extra": {table name: rows} (perplexity_by_position),
    "plots": [(what, png)], "skipped": {task: rows}, "backends": {...}}."""
    unknown = sorted(set(p.tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown eval task(s) {unknown}; tasks: {list(TASKS)}")
    generation = choose_backend(p.backend, p.endpoint)
    loglik = loglik_backend(p.loglik_backend, generation)
    rows, tables, pngs, skipped, extra = [], {}, [], {}, {}
    scorer = None
    if {"perplexity", "mc"} & set(p.tasks) or ("niah" in p.tasks and p.niah_mode == "teacher-forced"):
        log.info("log-likelihood tasks on %s", "the generation server's prompt logprobs" if loglik == "vllm"
                 else "the model in process")
        scorer = open_scorer(loglik, model_path, service() if loglik == "vllm" else None, p)
    docs = docs if docs is not None else defaults.held_out_articles(p.perplexity_per_topic)
    for task in p.tasks:
        log.info("eval task %s", task)
        if task == "perplexity":
            r, t, extra["perplexity_by_position"] = run_perplexity(p, scorer, docs[:p.limit] if p.limit else docs)
        elif task == "mc":
            r, t = run_mc(p, scorer)
        elif task == "gsm8k":
            r, t = run_gsm8k(p, get_generator(service()))
        elif task == "ifeval":
            r, t = run_ifeval(p, get_generator(service()))
        else:
            from transformers import AutoTokenizer

            from .niah import context_limit

            tok = AutoTokenizer.from_pretrained(model_path)
            limit = context_limit(model_path, tok, p.max_model_len if generation == "vllm" else None)
            answer = (lambda: get_generator(service())) if p.niah_mode == "generate" else scorer
            r, t, png, skipped["niah"] = run_niah(p, answer, [d["text"] for d in docs], tok, plots / "niah.png", limit)
            if png is not None:
                pngs.append(("needle in a haystack: depth x length", png))
        rows += r
        tables[task] = t
    if hasattr(scorer, "close"):
        scorer.close()
    return {"rows": rows, "tables": tables, "extra": extra, "plots": pngs, "skipped": {k: v for k, v in skipped.items() if v},
            "backends": {"generation": generation, "loglik": loglik}}


def run_model_suite(p: Any, model_path: str, served_name: str, plots: Path,
                    docs: list[dict] | None = None) -> dict[str, Any]:
    """run_suite on one model, its generation backend (p's: transformers, a vLLM server the run
    starts, an endpoint) opened when a task first needs it and closed after."""
    from ..generate.service import serving

    with ExitStack() as stack:
        opened = {}

        def service():
            if "spec" not in opened:
                opened["spec"] = stack.enter_context(serving(p, model_path, served_name))
            return opened["spec"]

        return run_suite(p, model_path, service, plots, docs=docs)


HEADLINE = {"perplexity": "bits_per_byte", "mc": "acc", "gsm8k": "flexible_match", "ifeval": "strict_prompt",
            "niah": "mean_score"}
LOWER_IS_BETTER = ("perplexity",)


def headline(tables: dict[str, list[dict]], skipped: dict[str, list[dict]] | None = None) -> list[dict]:
    """One metric per task, the one `zhinao compare` lines up (bits per byte: lower is better);
    `note` names what was skipped."""
    out = []
    for task, rows in tables.items():
        first = rows[0] if rows else {}
        metric = HEADLINE[task]
        if task == "niah":
            n = sum(r.get("n", 0) for r in rows)
            value = sum(r.get("score", 0) * r.get("n", 0) for r in rows) / n if n else None
        else:
            value = first.get(metric)
        gone = (skipped or {}).get(task) or []
        note = (f"lengths {', '.join(str(s['length']) for s in gone)} skipped: over the model's "
                f"{gone[0]['limit']} tokens ({gone[0]['limit_from']})") if gone else ""
        out.append({"task": task, "metric": metric, "value": value, "note": note})
    return out
