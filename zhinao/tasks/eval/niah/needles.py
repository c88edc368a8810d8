"""The needles: built-in fact sentences with their question and answer (English and Chinese), and
random key -> 7-digit value needles for the value-retrieval variants."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Needle:
    text: str        # the sentence put into the haystack
    question: str
    answer: str
    pattern: str     # regex over the normalised response (score.normalize) that marks a hit


FACTS = {
    "en": [
        Needle("The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.",
               "What is the best thing to do in San Francisco?",
               "eat a sandwich and sit in Dolores Park on a sunny day", r"sandwich.*dolores park"),
        Needle("The secret ingredient in Grandma Rosa's tomato sauce is a spoonful of orange marmalade.",
               "What is the secret ingredient in Grandma Rosa's tomato sauce?",
               "a spoonful of orange marmalade", r"orange marmalade"),
        Needle("The lighthouse keeper on Gull Island names every storm after a famous jazz pianist.",
               "What does the lighthouse keeper on Gull Island name every storm after?",
               "a famous jazz pianist", r"jazz pianist"),
    ],
    "zh": [
        Needle("在杭州最值得做的事情是清晨去西湖边喝一杯龙井茶，然后看日出。",
               "在杭州最值得做的事情是什么？",
               "清晨去西湖边喝一杯龙井茶，然后看日出", r"龙井.*日出"),
        Needle("王奶奶做红烧肉的秘诀是放一小勺桂花蜜。",
               "王奶奶做红烧肉的秘诀是什么？",
               "放一小勺桂花蜜", r"桂花蜜"),
        Needle("青岛灯塔的看守人用著名诗人的名字给每一场台风命名。",
               "青岛灯塔的看守人用什么给每一场台风命名？",
               "著名诗人的名字", r"诗人的名字"),
    ],
}

_KEY_PARTS = {
    "en": (["quiet", "ancient", "bright", "distant", "golden", "silver", "hidden", "frozen", "crimson", "gentle"],
           ["harbor", "forest", "valley", "castle", "river", "lighthouse", "garden", "meadow", "canyon", "island"]),
    "zh": (["安静的", "古老的", "明亮的", "遥远的", "金色的", "银色的", "隐秘的", "冰冻的", "深红的", "温柔的"],
           ["港湾", "森林", "山谷", "城堡", "河流", "灯塔", "花园", "草原", "峡谷", "海岛"]),
}
_VALUE_TEMPLATES = {
    "en": ("The special magic number for {key} is: {value}.",
           "What is the special magic number for {key} mentioned in the document?"),
    "zh": ("{key}的特别魔法数字是：{value}。", "文中提到的{key}的特别魔法数字是多少？"),
}


def fact_needles(lang: str) -> list[Needle]:
    return FACTS[lang]


def value_needles(lang: str, rng: random.Random, n: int = 1) -> list[Needle]:
    """`n` needles with distinct random keys ("quiet-harbor", "安静的港湾") and 7-digit values."""
    first, second = _KEY_PARTS[lang]
    joiner = "-" if lang == "en" else ""
    pairs = rng.sample([(a, b) for a in first for b in second], n)
    needle, question = _VALUE_TEMPLATES[lang]
    out = []
    for a, b in pairs:
        key, value = f"{a}{joiner}{b}", str(rng.randint(1_000_000, 9_999_999))
        out.append(Needle(needle.format(key=key, value=value), question.format(key=key), value,
                          rf"(?<!\d){value}(?!\d)"))
    return out
