"""detectable_content:*, startend:* and combination:* — placeholders, postscript, the end phrase,
quotation marks, two responses, the repeated prompt.

Chinese forms: placeholders may use full-width ［地址］ or 【地址】; phrases compare width- and
case-insensitively (还有其他问题吗？ ends like 还有其他问题吗?); the response may be wrapped in "…",
“…”, 「…」, 『…』 or ＂…＂.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .base import IFEvalError, Instruction, register
from .text import match

_PLACEHOLDER = re.compile(r"\[.*?\]|［.*?］|【.*?】")
QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "＂": "＂"}
_QUOTE_CHARS = "".join(QUOTES) + "".join(QUOTES.values())
MARKERS = {"en": ("P.S.", "P.P.S"), "zh": ("P.S.", "附言：")}
ENDINGS = {"en": ("Any other questions?", "Is there anything else I can help with?"),
           "zh": ("还有其他问题吗？", "还有什么我可以帮你的吗？")}


@register
@dataclass(frozen=True)
class NumberPlaceholders(Instruction):
    num_placeholders: int
    id = "detectable_content:number_placeholders"
    EN = ("The response must contain at least {num_placeholders} placeholders represented by square brackets, "
          "such as [address].")
    ZH = "回答中必须包含至少 {num_placeholders} 个用方括号表示的占位符，例如 [地址]。"

    def validate(self):
        self._int("num_placeholders")

    def check(self, response):
        return len(_PLACEHOLDER.findall(response)) >= self.num_placeholders

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"num_placeholders": rng.randint(1, 4)}


def marker_pattern(marker: str) -> re.Pattern:
    """A marker at a line start (after spaces or markdown), spaces allowed after its dots: P. S."""
    body = r"\.\s?".join(re.escape(part) for part in match(marker).split("."))
    return re.compile(rf"^[\s*_#>]*{body}", re.MULTILINE)


@register
@dataclass(frozen=True)
class Postscript(Instruction):
    postscript_marker: str
    id = "detectable_content:postscript"
    EN = "At the end of your response, please explicitly add a postscript starting with {postscript_marker}"
    ZH = "在回答的末尾，请明确添加一段以“{postscript_marker}”开头的附言。"

    def validate(self):
        self._str("postscript_marker")

    def check(self, response):
        return marker_pattern(self.postscript_marker).search(match(response)) is not None

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"postscript_marker": rng.choice(MARKERS["zh" if lang == "zh" else "en"])}


@register
@dataclass(frozen=True)
class EndChecker(Instruction):
    end_phrase: str
    id = "startend:end_checker"
    EN = 'Finish your response with this exact phrase "{end_phrase}". No other words should follow this phrase.'
    ZH = "请以“{end_phrase}”这句话结束你的回答，其后不得再有任何内容。"

    def validate(self):
        self._str("end_phrase")

    def check(self, response):
        # quotes around the whole response (startend:quotation) do not follow the phrase
        return match(response).strip().rstrip(_QUOTE_CHARS).rstrip().endswith(match(self.end_phrase))

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"end_phrase": rng.choice(ENDINGS["zh" if lang == "zh" else "en"])}


@register
@dataclass(frozen=True)
class Quotation(Instruction):
    id = "startend:quotation"
    EN = "Wrap your entire response with double quotation marks."
    ZH = "请用双引号把你的整个回答括起来。"

    def check(self, response):
        text = response.strip()
        return len(text) > 1 and QUOTES.get(text[0]) == text[-1]


@register
@dataclass(frozen=True)
class TwoResponses(Instruction):
    id = "combination:two_responses"
    EN = ("Give two different responses. Responses and only responses should be separated by 6 asterisk "
          "symbols: ******.")
    ZH = "请给出两个不同的回答，两个回答之间（且只在它们之间）用 6 个星号 ****** 分隔。"

    def check(self, response):
        parts = [p.strip() for p in response.split("******")]
        inner = parts[1:-1]
        if any(not p for p in inner):
            return False
        answers = [p for p in parts if p]
        return len(answers) == 2 and answers[0] != answers[1]


@register
@dataclass(frozen=True)
class RepeatPrompt(Instruction):
    prompt_to_repeat: str
    id = "combination:repeat_prompt"
    EN = ("First repeat the request word for word without change, then give your answer (1. do not say any "
          "words or characters before repeating the request; 2. the request you need to repeat does not "
          "include this sentence)")
    ZH = ("请先一字不差地重复上面的请求，然后再作答（1. 重复请求之前不要说任何字词或符号；"
          "2. 需要重复的请求不包括这句话）。")

    def validate(self):
        self._str("prompt_to_repeat")

    def check(self, response):
        return match(response).strip().startswith(match(self.prompt_to_repeat))

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        if not prompt:
            raise IFEvalError(f"{cls.id} needs the prompt to repeat")
        return {"prompt_to_repeat": prompt}
