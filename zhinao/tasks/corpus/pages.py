"""Bilingual web pages for the sample crawl: article text, HTML with boilerplate, spam and junk."""
from __future__ import annotations

import html
import random
from dataclasses import dataclass, field

from .content import BOILERPLATE, GENERIC, OTHER_LANGUAGES, SLOTS, SPAM, TITLES, TOPIC_NAMES_ZH, TOPICS


@dataclass
class Page:
    url: str
    lang: str
    kind: str                      # article | other_lang | exact_dup | near_dup | spam | low_quality
    topic: str | None
    title: str
    paragraphs: list[str]
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def _fill(rng: random.Random, template: str, lang: str) -> str:
    slots = SLOTS[lang]
    return template.format(
        city=rng.choice(slots["city"]), name=rng.choice(slots["name"]), org=rng.choice(slots["org"]),
        thing=rng.choice(slots["thing"]), num=rng.randint(2, 980), year=rng.randint(2019, 2027),
    )


def article(rng: random.Random, lang: str, topic: str, url: str) -> Page:
    # Each template at most once per page (real articles do not repeat their sentences, and the
    # repetition filters would rightly drop pages that did), spread over 2-3 paragraphs.
    bank = TOPICS[topic][lang]
    sentences = [_fill(rng, t, lang) for t in rng.sample(bank, len(bank))]
    sentences += rng.sample(GENERIC[lang], rng.randint(1, 2))
    cuts = sorted(rng.sample(range(1, len(sentences)), rng.randint(1, 2)))
    joiner = " " if lang == "en" else ""
    paragraphs = [joiner.join(sentences[a:b]) for a, b in zip([0] + cuts, cuts + [len(sentences)])]
    name = topic.title() if lang == "en" else TOPIC_NAMES_ZH[topic]
    title = TITLES[lang].format(topic=name, city=rng.choice(SLOTS[lang]["city"]))
    return Page(url, lang, "article", topic, title, paragraphs)


def other_language(rng: random.Random, lang: str, url: str) -> Page:
    sentences = OTHER_LANGUAGES[lang]
    paragraphs = [" ".join(rng.sample(sentences, len(sentences))) for _ in range(rng.randint(2, 4))]
    return Page(url, lang, "other_lang", None, sentences[0][:40], paragraphs)


def near_duplicate(rng: random.Random, original: Page, url: str) -> Page:
    """An edited copy: one sentence rewritten, a few words dropped, a paragraph appended."""
    paragraphs = list(original.paragraphs)
    i = rng.randrange(len(paragraphs))
    words = paragraphs[i].split(" ") if original.lang != "zh" else list(paragraphs[i])
    for _ in range(max(1, len(words) // 15)):
        if len(words) > 2:
            del words[rng.randrange(len(words))]
    paragraphs[i] = (" " if original.lang != "zh" else "").join(words)
    paragraphs.append(rng.choice(GENERIC[original.lang]))
    return Page(url, original.lang, "near_dup", original.topic, original.title, paragraphs,
                {"near_dup_of": original.url})


def spam(rng: random.Random, lang: str, url: str) -> Page:
    words = SPAM[lang].split()
    paragraphs = [" ".join(rng.choice(words) for _ in range(rng.randint(30, 60))) for _ in range(3)]
    return Page(url, lang, "spam", None, " ".join(words[:4]), paragraphs)


def low_quality(rng: random.Random, lang: str, url: str) -> Page:
    if rng.random() < 0.5:
        return Page(url, lang, "low_quality", None, "404" if lang == "en" else "页面", [rng.choice(GENERIC[lang])])
    links = [f"{rng.choice(SLOTS[lang]['city'])} {rng.randint(1, 99)}" for _ in range(25)]
    return Page(url, lang, "low_quality", None, "Links" if lang == "en" else "链接", links, {"link_list": True})


def render_html(page: Page, rng: random.Random, meta_charset: str | None) -> str:
    """HTML like a real site: head, nav, ads, the article, related links, footer, scripts."""
    lang = page.lang if page.lang in BOILERPLATE else "en"
    bp = BOILERPLATE[lang]
    head_meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    if meta_charset and rng.random() < 0.5:  # the older http-equiv spelling
        head_meta = f'<meta http-equiv="Content-Type" content="text/html; charset={meta_charset}">'
    nav = "".join(f'<li><a href="/{i}">{html.escape(n)}</a></li>' for i, n in enumerate(bp["nav"]))
    if page.extra.get("link_list"):
        body = "<ul>" + "".join(f'<li><a href="/l/{i}">{html.escape(p)}</a></li>'
                                for i, p in enumerate(page.paragraphs)) + "</ul>"
    else:
        body = "".join(f"<p>{html.escape(p)}</p>\n" for p in page.paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{page.lang}">\n<head>{head_meta}<title>{html.escape(page.title)}</title>'
        '<script>window.dataLayer=window.dataLayer||[];</script>'
        '<style>body{font-family:sans-serif}</style></head>\n<body>\n'
        f'<header><nav><ul>{nav}</ul></nav></header>\n'
        f'<div class="ad-banner">{html.escape(bp["ad"])}</div>\n'
        f'<main><article><h1>{html.escape(page.title)}</h1>\n{body}</article></main>\n'
        f'<aside class="related"><a href="/r/1">{html.escape(page.title[:12])}</a></aside>\n'
        f'<footer>{html.escape(bp["footer"].format(year=rng.randint(2015, 2026)))}</footer>\n'
        "</body></html>\n"
    )
