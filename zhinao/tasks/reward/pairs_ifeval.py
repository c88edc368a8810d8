"""Instruction-following preference pairs: a request with verifiable constraints (tasks/eval/ifeval)
and two responses made from the same sample-article text, one edited to follow every constraint
(chosen) and one that breaks one of them (rejected). No generator is needed.

Each constraint has an edit that makes a text comply (add a <<title>>, drop the commas, lowercase it
...) and one that makes it violate (often: leave the text as it is). The IFEval checkers are the
judges: a pair is kept only when the chosen response complies with every instruction and the
rejected one breaks exactly the instruction it was edited to break, so the signal is the checkers',
not the edits'.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..corpus.labelled import labelled_articles
from ..eval.ifeval import InputRecord, add_constraints, complies, conflicts, follows
from ..eval.ifeval.case import COMMAS
from ..eval.ifeval.text import sentences, words
from ..topics.taxonomy import load_taxonomy
from .pairs import pair

REQUESTS = {"en": ("Write a short passage about {topic}.", "Describe recent news about {topic} in a few sentences.",
                   "Give a brief update on {topic}."),
            "zh": ("请写一段关于{topic}的短文。", "用几句话介绍一下{topic}方面的最新动态。", "请简要介绍{topic}的近况。")}
# Chinese sentences join without spaces
JOIN = {"en": " ", "zh": ""}


@dataclass
class Context:
    lang: str
    title: str
    request: str
    base: str
    rng: random.Random
    facts: dict[str, Any] = field(default_factory=dict)


Transform = Callable[[str, dict, Context], str]


def _keep(text: str, kw: dict, ctx: Context) -> str:
    return text


@dataclass(frozen=True)
class Edit:
    order: int                          # edits apply in this order (wrappers after content, case last)
    comply: Transform
    violate: Transform = _keep
    kwargs: Callable[[Context], dict] = lambda ctx: {}   # kwargs fitted to the text (counts it can meet)
    langs: tuple[str, ...] = ("en", "zh")
    alone: bool = False                 # judged on the whole text: never combined with other edits
    layout: bool = False                # regroups the sentences: one layout edit per response


def _join(parts: list[str], lang: str) -> str:
    return JOIN[lang].join(parts)


def _sents(text: str) -> list[str]:
    return sentences(text) or [text]


def _mention(items: list[str], lang: str) -> str:
    if lang == "zh":
        return f"这也与{'和'.join(items)}有关。"
    return f"This also touches on {' and '.join(items)}."


def _no_commas(text: str, kw: dict, ctx: Context) -> str:
    if ctx.lang == "zh":
        text = text.replace("，", "。").replace("、", "和")
    for c in COMMAS:
        text = text.replace(c + " ", " ").replace(c, "")
    return text


def _with_comma(text: str, kw: dict, ctx: Context) -> str:
    if any(c in text for c in COMMAS):
        return text
    return ("总之，" if ctx.lang == "zh" else "In short, ") + text


def _bullets(n: int) -> Transform:
    def run(text: str, kw: dict, ctx: Context) -> str:
        parts = _sents(text)
        count = kw["num_bullets"] + n
        rest = _join(parts[count:], ctx.lang)
        return "\n".join(f"* {s}" for s in parts[:count]) + (f"\n\n{rest}" if rest else "")
    return run


def _divided(n: int, key: str, head: Callable[[int, dict], str] | None = None) -> Transform:
    """The sentences in `kw[key] + n` groups: *** dividers, or `head(k)` lines before each group."""
    def run(text: str, kw: dict, ctx: Context) -> str:
        parts = _sents(text)
        groups = max(1, min(kw[key] + n, len(parts)))
        bounds = [round(k * len(parts) / groups) for k in range(groups + 1)]
        chunks = [_join(parts[a:b], ctx.lang) for a, b in zip(bounds, bounds[1:])]
        if head is None:
            return "\n\n***\n\n".join(chunks)
        return "\n\n".join(f"{head(k + 1, kw)}\n{c}" for k, c in enumerate(chunks))
    return run


def _highlight(n: int) -> Transform:
    def run(text: str, kw: dict, ctx: Context) -> str:
        parts = _sents(text)
        count = kw["num_highlights"] + n
        return _join([f"*{s}*" if i < count else s for i, s in enumerate(parts)], ctx.lang)
    return run


def _placeholders(text: str, kw: dict, ctx: Context) -> str:
    names = ["[姓名]", "[地址]", "[日期]"] if ctx.lang == "zh" else ["[name]", "[address]", "[date]"]
    chosen = names[:kw["num_placeholders"]]
    return text + (f"请联系{'和'.join(chosen)}。" if ctx.lang == "zh" else f" Contact {' and '.join(chosen)}.")


def _count_range(count: Callable[[str], int], key: str) -> Callable[[Context], dict]:
    """A threshold between the count of the text's first sentence and of the whole text, so a short
    and a long version fall on either side of it."""
    def fit(ctx: Context) -> dict:
        parts = _sents(ctx.base)
        short, full = count(parts[0]), count(ctx.base)
        ctx.facts["short"] = parts[0]
        relation = ctx.rng.choice(["less than", "at least"])
        return {key: ctx.rng.randint(short + 1, full) if full > short else full, "relation": relation}
    return fit


def _by_length(comply: bool) -> Transform:
    def run(text: str, kw: dict, ctx: Context) -> str:
        short_wins = kw["relation"] == "less than"
        return ctx.facts["short"] if short_wins == comply else text
    return run


def _at_most(cap: int, key: str, need: int = 1) -> Callable[[Context], dict]:
    """kwargs `key`: a count the text's sentences can meet (from `need` up to `cap`)."""
    def fit(ctx: Context) -> dict:
        return {key: ctx.rng.randint(need, max(need, min(cap, len(_sents(ctx.base)))))}
    return fit


EDITS: dict[str, Edit] = {
    "keywords:existence": Edit(0, lambda t, kw, c: t + JOIN[c.lang] + _mention(kw["keywords"], c.lang)),
    "keywords:forbidden_words": Edit(0, _keep, lambda t, kw, c: t + JOIN[c.lang] + _mention(kw["forbidden_words"][:1],
                                                                                            c.lang)),
    "detectable_content:number_placeholders": Edit(0, _placeholders, kwargs=_at_most(3, "num_placeholders")),
    "detectable_format:number_highlighted_sections": Edit(1, _highlight(0), _highlight(-1),
                                                          _at_most(3, "num_highlights"), layout=True),
    "detectable_format:number_bullet_lists": Edit(2, _bullets(0), _bullets(-1), _at_most(4, "num_bullets", 2),
                                                  layout=True),
    "length_constraints:number_paragraphs": Edit(2, _divided(0, "num_paragraphs"), _divided(-1, "num_paragraphs"),
                                                 _at_most(3, "num_paragraphs", 2), layout=True),
    "detectable_format:multiple_sections": Edit(
        2, _divided(0, "num_sections", lambda k, kw: f"{kw['section_spliter']} {k}"),
        _divided(-1, "num_sections", lambda k, kw: f"{kw['section_spliter']} {k}"), _at_most(3, "num_sections", 2),
        layout=True),
    "punctuation:no_comma": Edit(3, _no_commas, _with_comma),
    "detectable_format:title": Edit(4, lambda t, kw, c: f"<<{c.title}>>\n{t}", lambda t, kw, c: f"{c.title}\n{t}"),
    "detectable_content:postscript": Edit(5, lambda t, kw, c: t + f"\n\n{kw['postscript_marker']} "
                                          + ("感谢阅读。" if c.lang == "zh" else "Thanks for reading.")),
    "startend:end_checker": Edit(6, lambda t, kw, c: t + JOIN[c.lang] + kw["end_phrase"]),
    "detectable_format:json_format": Edit(7, lambda t, kw, c: json.dumps({"title": c.title, "answer": t},
                                                                         ensure_ascii=False)),
    "startend:quotation": Edit(8, lambda t, kw, c: f"“{t}”" if c.lang == "zh" else f'"{t}"'),
    "combination:repeat_prompt": Edit(9, lambda t, kw, c: f"{kw['prompt_to_repeat']}\n\n{t}"),
    "change_case:english_lowercase": Edit(10, lambda t, kw, c: t.lower(), langs=("en",)),
    "change_case:english_capital": Edit(10, lambda t, kw, c: t.upper(), langs=("en",)),
    "length_constraints:number_words": Edit(0, _by_length(True), _by_length(False),
                                            _count_range(lambda t: len(words(t)), "num_words"), alone=True),
    "length_constraints:number_sentences": Edit(0, _by_length(True), _by_length(False),
                                                _count_range(lambda t: len(sentences(t)), "num_sentences"),
                                                alone=True),
}


def base_response(article: dict, max_chars: int) -> tuple[str, str]:
    """(title, body): the article's title line and its first sentences, up to `max_chars`."""
    title, _, rest = article["text"].partition("\n")
    parts = sentences(rest.replace("\n", JOIN[article["lang"]]))
    body: list[str] = []
    for s in parts:
        if body and len(_join(body + [s], article["lang"])) > max_chars:
            break
        body.append(s)
    return title.strip(), _join(body, article["lang"])


def pick_instructions(rng: random.Random, lang: str, most: int, allowed: list[str] | None = None) -> list[str]:
    usable = [i for i, e in EDITS.items() if lang in e.langs and (allowed is None or i in allowed)]
    if not usable:
        raise ValueError(f"none of the instructions {allowed} applies to {lang!r} responses")
    first = rng.choice(usable)
    if EDITS[first].alone:
        return [first]
    chosen = [first]
    for _ in range(rng.randint(1, most) - 1):
        fits = [i for i in usable if not EDITS[i].alone and not any(conflicts(i, c) for c in chosen)
                and not (EDITS[i].layout and any(EDITS[c].layout for c in chosen))]
        if fits:
            chosen.append(rng.choice(fits))
    return chosen


@dataclass(frozen=True)
class IfevalPair:
    record: InputRecord         # the prompt with its instructions and their checkers
    chosen: str
    rejected: str
    broken: str                 # the instruction the rejected response was edited to break


def ifeval_items(n: int, langs: list[str], seed: int, max_constraints: int, max_chars: dict[str, int],
                 instructions: list[str] | None = None) -> Iterator[IfevalPair]:
    """`n` candidate pairs, deterministic by seed, before the checkers judge them; `instructions`:
    the instruction ids to draw from (default: every one with an edit, EDITS)."""
    unknown = sorted(set(instructions or ()) - set(EDITS))
    if unknown:
        raise ValueError(f"no pair edits for instruction(s) {unknown}; known: {sorted(EDITS)}")
    if n <= 0:
        return
    topics = load_taxonomy()
    per_topic = -(-n // (12 * 2))                      # the sample articles: 12 topics x 2 languages
    articles = [a for a in labelled_articles(per_topic, seed=seed) if a["lang"] in langs]
    if not articles:
        raise ValueError(f"no sample articles in languages {langs} (the sample has en and zh)")
    rng = random.Random(f"{seed}:ifeval-pairs")
    rng.shuffle(articles)
    for i in range(n):
        article = articles[i % len(articles)]
        lang = article["lang"]
        title, base = base_response(article, max_chars.get(lang, 300))
        topic = topics[article["truth"]].name(lang)
        request = rng.choice(REQUESTS[lang]).format(topic=topic.lower() if lang == "en" else topic)
        ctx = Context(lang, title, request, base, rng)
        ids = pick_instructions(rng, lang, max_constraints, instructions)
        record = add_constraints(request, ids, lang, seed=f"{seed}:{i}", key=i,
                                 kwargs={iid: EDITS[iid].kwargs(ctx) for iid in ids})
        made = dict(zip(ids, (c.kwargs() for c in record.checkers)))
        broken = rng.choice(ids)
        chosen = rejected = base
        for iid in sorted(ids, key=lambda x: EDITS[x].order):
            edit = EDITS[iid]
            chosen = edit.comply(chosen, made[iid], ctx)
            rejected = (edit.violate if iid == broken else edit.comply)(rejected, made[iid], ctx)
        yield IfevalPair(record, chosen, rejected, broken)


def verdict(item: IfevalPair) -> str | None:
    """None when the checkers agree with the pair: the chosen response follows every instruction and
    the rejected one breaks the instruction it was edited to break and only that one."""
    if not complies(item.record, item.chosen):
        return "ifeval_chosen_fails"
    follows_each = {iid: follows(c, item.rejected) for iid, c in zip(item.record.instruction_id_list,
                                                                      item.record.checkers)}
    if follows_each[item.broken]:
        return "ifeval_rejected_complies"
    if not all(ok for iid, ok in follows_each.items() if iid != item.broken):
        return "ifeval_rejected_breaks_others"
    return None


def ifeval_pairs(n: int, langs: list[str], seed: int, max_constraints: int, max_chars: dict[str, int],
                 instructions: list[str] | None = None) -> Iterator[tuple[dict, str | None]]:
    """(pair, None) for each kept pair, (pair, reason) for each one the checkers refused."""
    for item in ifeval_items(n, langs, seed, max_constraints, max_chars, instructions):
        row = pair(item.record.prompt, item.chosen, item.rejected, "ifeval", item.record.lang,
                   f"pairs:ifeval:{item.broken}",
                   {"instruction_id_list": list(item.record.instruction_id_list),
                    "kwargs": [dict(k) for k in item.record.kwargs]})
        yield row, verdict(item)
