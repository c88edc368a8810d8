"""Script evidence that fixes lid.176's known CJK confusions and tells zh-Hans from zh-Hant."""
from __future__ import annotations

import re

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")


def script_counts(text: str) -> tuple[int, int, int]:
    return len(HAN.findall(text)), len(KANA.findall(text)), len(HANGUL.findall(text))


def correct_cjk(lang: str, text: str) -> str:
    """Japanese always writes kana among its kanji and Korean writes hangul; Chinese has neither.
    lid.176 labels some short Chinese sentences 'ja' (and kanji-heavy Japanese 'zh')."""
    han, kana, hangul = script_counts(text)
    if lang in ("ja", "zh", "ko", "wuu", "yue"):
        if hangul > max(han, kana):
            return "ko"
        if kana >= max(3, 0.05 * han):
            return "ja"
        if han and lang in ("ja", "wuu"):
            return "zh"
    return lang


def chinese_script(text: str, sample: int = 4000) -> str:
    """'Hant' when a noticeable share of the Han characters change under conversion to simplified."""
    import zhconv

    han = "".join(HAN.findall(text[:sample]))
    if not han:
        return "Hans"
    simplified = zhconv.convert(han, "zh-hans")
    changed = sum(a != b for a, b in zip(han, simplified))
    return "Hant" if changed >= max(2, 0.05 * len(han)) else "Hans"
