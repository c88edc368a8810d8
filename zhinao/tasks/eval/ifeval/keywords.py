"""keywords:* — keywords present, a keyword's frequency, forbidden words, a letter's frequency.

The letter is a Latin letter a-z, counted case-insensitively, full-width Ａ/ａ as A/a. IFEval's own
file also asks for '#' and '!': any other single character is counted as itself (！ as !).

Matching is case-insensitive and width-insensitive (text.match). As in IFEval, existence and
frequency count substrings. A forbidden word is matched as a substring when it holds a Han
character (Chinese has no spaces: IFEval's `\\b` never matches 苹果 inside 我喜欢苹果), otherwise as
a whole word, one not touching another Latin letter or digit (so "AI" is found in "AI芯片", where
`\\b` sees no boundary between I and 芯).
"""
from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from typing import Any

from .base import RELATIONS, Instruction, compare, quoted, register
from .text import LATIN, has_han, latin, match

WORDS = {
    "en": ["planet", "river", "history", "music", "garden", "science", "future", "energy", "ocean",
           "market", "bridge", "journey", "memory", "winter", "coffee", "signal", "forest", "window"],
    "zh": ["科学", "历史", "未来", "音乐", "花园", "能源", "海洋", "城市", "旅行", "记忆", "冬天",
           "咖啡", "森林", "窗户", "朋友", "文化", "技术", "春天"],
}
_WHOLE = rf"(?<![{LATIN}0-9_]){{}}(?![{LATIN}0-9_])"


def pick_words(rng: random.Random, lang: str, n: int) -> list[str]:
    return sorted(rng.sample(WORDS["zh" if lang == "zh" else "en"], n))


def occurrences(keyword: str, response: str) -> int:
    return match(response).count(match(keyword))


@register
@dataclass(frozen=True)
class Existence(Instruction):
    keywords: list[str]
    id = "keywords:existence"
    EN = "Include the keywords {keywords} in the response."
    ZH = "回答中必须包含关键词{keywords}。"

    def validate(self):
        self._strs("keywords")

    def check(self, response):
        return all(occurrences(k, response) for k in self.keywords)

    def values(self, lang):
        return {"keywords": quoted(self.keywords, lang)}

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"keywords": pick_words(rng, lang, 2)}


@register
@dataclass(frozen=True)
class Frequency(Instruction):
    keyword: str
    frequency: int
    relation: str
    id = "keywords:frequency"
    EN = 'In your response, the word "{keyword}" should appear {relation} {frequency} times.'
    ZH = "在回答中，词语“{keyword}”应出现{relation} {frequency} 次。"

    def validate(self):
        self._str("keyword")
        self._int("frequency")
        self._relation("relation")

    def check(self, response):
        return compare(occurrences(self.keyword, response), self.relation, self.frequency)

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"keyword": pick_words(rng, lang, 1)[0], "frequency": rng.randint(1, 3),
                "relation": rng.choice(RELATIONS)}


@register
@dataclass(frozen=True)
class ForbiddenWords(Instruction):
    forbidden_words: list[str]
    id = "keywords:forbidden_words"
    EN = "Do not include the keywords {forbidden_words} in the response."
    ZH = "回答中不得出现关键词{forbidden_words}。"

    def validate(self):
        self._strs("forbidden_words")
        object.__setattr__(self, "forbidden_words", sorted(set(self.forbidden_words)))

    def check(self, response):
        text = match(response)
        for word in map(match, self.forbidden_words):
            found = word in text if has_han(word) else re.search(_WHOLE.format(re.escape(word)), text)
            if found:
                return False
        return True

    def values(self, lang):
        return {"forbidden_words": quoted(self.forbidden_words, lang)}

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"forbidden_words": pick_words(rng, lang, 2)}


@register
@dataclass(frozen=True)
class LetterFrequency(Instruction):
    letter: str
    let_frequency: int
    let_relation: str
    id = "keywords:letter_frequency"
    EN = 'In your response, the letter "{letter}" should appear {let_relation} {let_frequency} times.'
    ZH = "在回答中，英文字母“{letter}”（不区分大小写）应出现{let_relation} {let_frequency} 次。"

    def validate(self):
        letter = latin(self.letter).strip() if isinstance(self.letter, str) else self.letter
        if not isinstance(letter, str) or len(letter) != 1:
            self._fail("letter", "must be one character")
        object.__setattr__(self, "letter", letter.lower() if letter.lower() in string.ascii_lowercase else letter)
        self._int("let_frequency")
        self._relation("let_relation")

    def check(self, response):
        if self.letter in string.ascii_lowercase:
            count = latin(response).lower().count(self.letter)
        else:       # IFEval's own file asks for '#' and '!': counted as themselves (！ as !)
            count = match(response).count(match(self.letter))
        return compare(count, self.let_relation, self.let_frequency)

    @classmethod
    def sample(cls, rng, lang, prompt=None) -> dict[str, Any]:
        return {"letter": rng.choice(string.ascii_lowercase), "let_frequency": rng.randint(1, 10),
                "let_relation": rng.choice(RELATIONS)}
