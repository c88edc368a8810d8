"""The label sets of SFT items and the cheap deterministic labeler: intent by keyword rules in
English and Chinese (first rule that matches, most specific first), difficulty by a score of
length, constraints, reasoning cues and turns, and the length bucket of the response.

The generator labeler (label_job.py) answers in the same label sets; what it cannot answer falls
back to these rules."""
from __future__ import annotations

import re

from ..chat.text import units

INTENTS = ("translation", "coding", "math", "summarization", "rewriting", "extraction", "classification",
           "creative_writing", "brainstorming", "reasoning", "open_qa", "chat")
DIFFICULTIES = ("easy", "medium", "hard")
LENGTH_BUCKETS = ("short", "medium", "long", "very_long")


def _rule(*patterns: str) -> re.Pattern:
    return re.compile("|".join(patterns), re.I)


# most specific first: "translate this Python comment" is a translation, "write a poem" is writing
_INTENT_RULES = (
    ("translation", _rule(r"\btranslat", r"\binto (?:english|chinese|french|german|spanish|japanese)\b",
                          r"翻译", r"译成", r"译为")),
    ("coding", _rule(r"```", r"\b(?:python|javascript|java|c\+\+|sql|rust|golang|html|css|regex|bash)\b",
                     r"\b(?:code|function|program|script|algorithm|compile|debug|bug|api|class|method)\b",
                     r"代码", r"编程", r"函数", r"程序", r"算法", r"脚本")),
    ("math", _rule(r"\d+\s*[-+*/×÷^]\s*\d+", r"\b(?:calculate|compute|solve|equation|how many|how much|percent"
                   r"|probability|sum of|average|integral|derivative|prove)\b",
                   r"计算", r"求解", r"方程", r"多少", r"概率", r"平均", r"证明", r"几个")),
    ("summarization", _rule(r"\bsummar", r"\btl;?dr\b", r"\bin (?:one|a few) sentences?\b", r"总结", r"概括",
                            r"摘要", r"归纳")),
    ("rewriting", _rule(r"\b(?:rewrite|rephrase|paraphrase|proofread|polish|edit|make (?:it|this) more)\b",
                        r"改写", r"润色", r"改成", r"修改", r"重写")),
    ("extraction", _rule(r"\bextract", r"\b(?:find|list) all (?:the )?", r"\bpull out\b", r"提取", r"抽取", r"找出")),
    ("classification", _rule(r"\bclassif", r"\bcategori[sz]", r"\bsentiment\b", r"\bwhich (?:category|type)\b",
                             r"\bpositive or negative\b", r"分类", r"归类", r"情感", r"正面还是负面", r"属于哪")),
    ("creative_writing", _rule(r"\b(?:write|compose)\b.{0,40}\b(?:poem|story|haiku|limerick|song|lyrics|essay|"
                               r"letter|email|speech|article|blog|script|dialogue|tale)\b",
                               r"写一(?:首|篇|封|段|个故事)", r"诗", r"故事", r"作文", r"邮件", r"演讲稿")),
    ("brainstorming", _rule(r"\b(?:ideas?|brainstorm|suggest|suggestions|names? for|tips|ways to|plan)\b",
                            r"建议", r"点子", r"想法", r"起名", r"店名", r"计划", r"方法")),
    ("reasoning", _rule(r"\b(?:why|explain|compare|analy[sz]e|pros and cons|difference|reason|evaluate)\b",
                        r"为什么", r"解释", r"比较", r"分析", r"区别", r"优缺点", r"原因", r"推理")),
    ("open_qa", _rule(r"\?", r"？", r"^\s*(?:what|who|when|where|which|how|is|are|can|does|do)\b",
                      r"什么", r"谁", r"哪", r"如何", r"怎么", r"吗")),
)

_CONSTRAINT_CUES = _rule(r"\b(?:must|should|at least|at most|no more than|exactly|only|without|include|"
                         r"format|in \d+ words|bullet|json|markdown)\b",
                         r"必须", r"至少", r"不少于", r"不超过", r"最多", r"恰好", r"要求", r"格式", r"包含", r"不要")
_REASONING_CUES = _rule(r"\b(?:step by step|prove|derive|justify|reasoning|trade-?offs?|optimi[sz]e|complexity|"
                        r"edge cases?)\b", r"证明", r"推导", r"步骤", r"论证", r"复杂度", r"权衡", r"优化")


def heuristic_intent(request: str) -> str:
    for name, rule in _INTENT_RULES:
        if rule.search(request):
            return name
    return "chat"


def heuristic_difficulty(request: str, response: str, intent: str, turns: int) -> str:
    """easy / medium / hard from a score: a long request (+1, +2), each constraint cue (up to +2),
    a reasoning cue (+1), an intent that needs working (+1), several user turns (+1), a long answer
    (+1)."""
    n = len(units(request))
    score = (n > 40) + (n > 120)
    score += min(2, len(_CONSTRAINT_CUES.findall(request)))
    score += bool(_REASONING_CUES.search(request))
    score += intent in ("coding", "math", "reasoning")
    score += turns > 1
    score += len(units(response)) > 300
    return "easy" if score <= 1 else "medium" if score <= 3 else "hard"


def length_bucket(response: str, edges: list[int]) -> str:
    """The response's bucket by its length in text units (about tokens): below edges[0] short,
    below edges[1] medium, below edges[2] long, else very_long."""
    n = len(units(response))
    for name, edge in zip(LENGTH_BUCKETS, edges):
        if n < edge:
            return name
    return LENGTH_BUCKETS[-1]


def pick_label(text: str | None, allowed: tuple[str, ...]) -> str | None:
    """The label of `allowed` an answer names (spaces or dashes for underscores, any case); the
    earliest named wins. None when it names none."""
    if not text:
        return None
    low = text.lower().replace("-", "_")
    found = [(m.start(), a) for a in allowed for m in [re.search(rf"\b{a}\b|\b{a.replace('_', ' ')}\b", low)] if m]
    return min(found)[1] if found else None
