"""change_case:*, punctuation:no_comma and language:response_language.

- Case rules look at Latin letters only (text.latin_letters: full-width Ｌａｔｉｎ counts, Han,
  Cyrillic, Greek do not). english_capital / english_lowercase ask for English, so they hold only
  when the language ID says 'en' and there is at least one Latin letter, none of the wrong case: a
  response with no Latin letters (pure Chinese) never complies, and Chinese text with all-capital
  English words in it does not either (its language is zh). capital_word_frequency counts Latin words
  (text.latin_words) whose letters are all capitals, 'AI' in 'AI芯片' included; text without Latin
  letters has none, so 'less than N' holds and 'at least N' does not.
- no_comma forbids every comma form: ASCII `,`, Chinese `，` and the enumeration comma `、`, and
  their small/half-width variants (﹐ ﹑ ､). 、 is a comma in all but name (it separates list
  items), and a model that swaps ， for 、 still writes commas; the Chinese description says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .base import RELATIONS, Instruction, compare, register
from .lang import NAMES, detect, is_language, name
from .text import latin_letters, latin_words

COMMAS = ",，、﹐﹑､"


def _english(response: str) -> bool:
    return detect(response)[0] == "en"


@register
@dataclass(frozen=True)
class EnglishCapital(Instruction):
    id = "change_case:english_capital"
    EN = "Your entire response should be in English, and in all capital letters."
    ZH = "你的整个回答必须使用英文，并且全部使用大写字母。"

    def check(self, response):
        letters = latin_letters(response)
        return bool(letters) and not any(c.islower() for c in letters) and _english(response)


@register
@dataclass(frozen=True)
class EnglishLowercase(Instruction):
    id = "change_case:english_lowercase"
    EN = "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."
    ZH = "你的整个回答必须使用英文，并且全部使用小写字母，不允许出现任何大写字母。"

    def check(self, response):
        letters = latin_letters(response)
        return bool(letters) and not any(c.isupper() for c in letters) and _english(response)


def capital_words(response: str) -> int:
    return sum(not any(c.islower() for c in w) for w in latin_words(response))


@register
@dataclass(frozen=True)
class CapitalWordFrequency(Instruction):
    capital_frequency: int
    capital_relation: str
    id = "change_case:capital_word_frequency"
    EN = ("In your response, words with all capital letters should appear {capital_relation} "
          "{capital_frequency} times.")
    ZH = "在回答中，全部由大写英文字母组成的单词应出现{capital_relation} {capital_frequency} 次。"

    def validate(self):
        self._int("capital_frequency")
        self._relation("capital_relation")

    def check(self, response):
        return compare(capital_words(response), self.capital_relation, self.capital_frequency)

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"capital_frequency": rng.randint(1, 20), "capital_relation": rng.choice(RELATIONS)}


@register
@dataclass(frozen=True)
class NoComma(Instruction):
    id = "punctuation:no_comma"
    EN = "In your entire response, refrain from the use of any commas."
    ZH = "在整个回答中不要使用任何逗号（包括“，”“、”和英文逗号“,”）。"

    def check(self, response):
        return not re.search(f"[{COMMAS}]", response)


@register
@dataclass(frozen=True)
class ResponseLanguage(Instruction):
    language: str
    id = "language:response_language"
    EN = "Your ENTIRE response should be in {language} language, no other language is allowed."
    ZH = "你的整个回答必须使用{language}，不允许使用其他语言。"

    def validate(self):
        self._str("language")

    def check(self, response):
        return is_language(response, self.language)

    def values(self, lang):
        return {"language": name(self.language, lang)}

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        # mostly the prompt's own language or the other of en/zh, sometimes any other
        other = "en" if lang == "zh" else "zh"
        return {"language": rng.choice([lang, other, other, rng.choice(sorted(NAMES))])}
