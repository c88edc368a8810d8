"""length_constraints:* — sentences, paragraphs (*** dividers), words, the nth paragraph's first word.

Units come from text.py (jieba words for Han text, 。！？；… sentence ends). A Chinese first word is
matched as a prefix of the paragraph: Chinese paragraphs have no space after their first word, and
jieba may join it with what follows (首先是 / 首先). A Latin first word ends at a space, punctuation
(ASCII or full-width) or a Han character ("Python是…" starts with Python).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .base import RELATIONS, Instruction, compare, register
from .keywords import pick_words
from .text import has_han, match, paragraphs, sentences, words

_OPENERS = "\"'“‘「『《（(【[*#> \t"
_FIRST = re.compile(r"[^\s.,?!'\"，。？！：:；;、\u3400-\u9fff]*")     # up to a space, punctuation or Han


@register
@dataclass(frozen=True)
class NumberSentences(Instruction):
    num_sentences: int
    relation: str
    id = "length_constraints:number_sentences"
    EN = "Your response should contain {relation} {num_sentences} sentences."
    ZH = "你的回答应包含{relation} {num_sentences} 个句子。"

    def validate(self):
        self._int("num_sentences")
        self._relation("relation")

    def check(self, response):
        return compare(len(sentences(response)), self.relation, self.num_sentences)

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"num_sentences": rng.randint(1, 20), "relation": rng.choice(RELATIONS)}


def divided(response: str) -> list[str] | None:
    """Paragraphs between *** dividers; None when a divider stands next to an empty paragraph."""
    parts = [p.strip() for p in re.split(r"\s*\*\*\*\s*", response)]
    if parts and not parts[0]:
        parts = parts[1:]
    if parts and not parts[-1]:
        parts = parts[:-1]
    return None if any(not p for p in parts) else parts


@register
@dataclass(frozen=True)
class NumberParagraphs(Instruction):
    num_paragraphs: int
    id = "length_constraints:number_paragraphs"
    EN = "There should be {num_paragraphs} paragraphs. Paragraphs are separated with the markdown divider: ***"
    ZH = "回答应分为 {num_paragraphs} 个段落，段落之间用 Markdown 分隔线 *** 隔开。"

    def validate(self):
        self._int("num_paragraphs", 1)

    def check(self, response):
        parts = divided(response)
        return parts is not None and len(parts) == self.num_paragraphs

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"num_paragraphs": rng.randint(1, 5)}


@register
@dataclass(frozen=True)
class NumberWords(Instruction):
    num_words: int
    relation: str
    id = "length_constraints:number_words"
    EN = "Answer with {relation} {num_words} words."
    ZH = "请用{relation} {num_words} 个词作答（中文按词语计数）。"

    def validate(self):
        self._int("num_words")
        self._relation("relation")

    def check(self, response):
        return compare(len(words(response)), self.relation, self.num_words)

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"num_words": rng.randint(100, 500), "relation": rng.choice(RELATIONS)}


def first_word_is(paragraph: str, word: str) -> bool:
    head = paragraph.lstrip(_OPENERS)
    if has_han(word):
        return match(head).startswith(match(word))
    return match(_FIRST.match(head).group()) == match(word)


@register
@dataclass(frozen=True)
class NthParagraphFirstWord(Instruction):
    num_paragraphs: int
    nth_paragraph: int
    first_word: str
    id = "length_constraints:nth_paragraph_first_word"
    EN = ("There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with "
          "each other by two new lines as if it was '\\n\\n' in python. Paragraph {nth_paragraph} must start "
          'with the word "{first_word}".')
    ZH = ("回答应分为 {num_paragraphs} 个段落，段落之间（且只有段落之间）用一个空行分隔，即 Python 中的 '\\n\\n'。"
          "第 {nth_paragraph} 段必须以“{first_word}”开头。")

    def validate(self):
        self._int("num_paragraphs", 1)
        self._int("nth_paragraph", 1)
        self._str("first_word")

    def check(self, response):
        paras = paragraphs(response)
        return (len(paras) == self.num_paragraphs and self.nth_paragraph <= len(paras)
                and first_word_is(paras[self.nth_paragraph - 1], self.first_word))

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        n = rng.randint(2, 5)
        return {"num_paragraphs": n, "nth_paragraph": rng.randint(1, n), "first_word": pick_words(rng, lang, 1)[0]}
