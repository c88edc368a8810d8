"""detectable_format:* — bullets, a constrained answer, highlights, sections, JSON, a title.

- bullets: lines starting with a markdown marker (*, -, +) or •, then a space; horizontal rules
  (***, - - -) and **bold** lines are not bullets.
- sections: the splitter followed by a number (0-9, full-width digits or 一二三…) at a line start,
  markdown (#, *) allowed before it; at least num_sections of them, as in IFEval.
- title: <<...>> only (full-width ＜＜...＞＞ too). Chinese 《...》 marks the name of a work
  anywhere in prose, so it is no evidence of a title.
- constrained answer: the English options, or their Chinese forms (我的答案是：是。...); either set
  passes whatever the description's language.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .base import Instruction, register
from .text import match

_BULLET = re.compile(r"^[ \t]*[*\-+•][ \t]+\S")
_RULE = re.compile(r"^[ \t]*([*\-_])(?:[ \t]*\1){2,}[ \t]*$")
_HIGHLIGHT = re.compile(r"\*\*([^\n*]+)\*\*|\*([^\n*]+)\*")
_TITLE = re.compile(r"<<([^\n]+?)>>")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
OPTIONS = {"en": ("My answer is yes.", "My answer is no.", "My answer is maybe."),
           "zh": ("我的答案是：是。", "我的答案是：否。", "我的答案是：也许。")}
SPLITTERS = {"en": ("Section", "SECTION"), "zh": ("部分", "Section")}


@register
@dataclass(frozen=True)
class NumberBulletLists(Instruction):
    num_bullets: int
    id = "detectable_format:number_bullet_lists"
    EN = ("Your answer must contain exactly {num_bullets} bullet points. Use the markdown bullet points "
          "such as:\n* This is point 1.\n* This is point 2")
    ZH = "你的回答必须恰好包含 {num_bullets} 个要点，使用 Markdown 列表符号，例如：\n* 这是第一点。\n* 这是第二点。"

    def validate(self):
        self._int("num_bullets")

    def check(self, response):
        lines = response.splitlines()
        return sum(bool(_BULLET.match(x)) and not _RULE.match(x) for x in lines) == self.num_bullets

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"num_bullets": rng.randint(1, 5)}


@register
@dataclass(frozen=True)
class ConstrainedResponse(Instruction):
    id = "detectable_format:constrained_response"
    EN = "Answer with one of the following options: " + ", ".join(f'"{o}"' for o in OPTIONS["en"])
    ZH = "请从以下选项中选择一个作答：" + "、".join(f"“{o}”" for o in OPTIONS["zh"])

    def check(self, response):
        text = match(response)
        return any(match(o) in text for opts in OPTIONS.values() for o in opts)


def highlights(response: str) -> int:
    return sum(bool((a or b).strip()) for a, b in _HIGHLIGHT.findall(response))


@register
@dataclass(frozen=True)
class NumberHighlightedSections(Instruction):
    num_highlights: int
    id = "detectable_format:number_highlighted_sections"
    EN = "Highlight at least {num_highlights} sections in your answer with markdown, i.e. *highlighted section*."
    ZH = "请用 Markdown 在回答中突出显示至少 {num_highlights} 处内容，例如 *突出显示的部分*。"

    def validate(self):
        self._int("num_highlights")

    def check(self, response):
        return highlights(response) >= self.num_highlights

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"num_highlights": rng.randint(1, 4)}


@register
@dataclass(frozen=True)
class MultipleSections(Instruction):
    section_spliter: str     # sic: IFEval's kwarg name
    num_sections: int
    id = "detectable_format:multiple_sections"
    EN = ("Your response must have {num_sections} sections. Mark the beginning of each section with "
          "{section_spliter} X, such as:\n{section_spliter} 1\n[content of section 1]\n{section_spliter} 2\n"
          "[content of section 2]")
    ZH = ("你的回答必须包含 {num_sections} 个部分，每个部分以“{section_spliter} X”开头，例如：\n"
          "{section_spliter} 1\n[第 1 部分的内容]\n{section_spliter} 2\n[第 2 部分的内容]")

    def validate(self):
        self._str("section_spliter")
        self._int("num_sections")

    def check(self, response):
        head = re.compile(rf"^[\s*_#>]*{re.escape(self.section_spliter)}\s?[0-9０-９一二三四五六七八九十]+",
                          re.MULTILINE)
        return len(head.findall(response)) >= self.num_sections

    @classmethod
    def sample(cls, rng, lang, prompt=None):
        return {"section_spliter": rng.choice(SPLITTERS["zh" if lang == "zh" else "en"]),
                "num_sections": rng.randint(2, 5)}


@register
@dataclass(frozen=True)
class JsonFormat(Instruction):
    id = "detectable_format:json_format"
    EN = "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```."
    ZH = "整个输出必须是 JSON 格式，可以使用 Markdown 代码块标记 ```。"

    def check(self, response):
        try:
            json.loads(_FENCE.sub("", response.strip()))
        except ValueError:
            return False
        return True


@register
@dataclass(frozen=True)
class Title(Instruction):
    id = "detectable_format:title"
    EN = "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>."
    ZH = "你的回答必须包含一个用双尖括号括起来的标题，例如 <<欢乐之诗>>。"

    def check(self, response):
        return any(t.strip() for t in _TITLE.findall(match(response)))
