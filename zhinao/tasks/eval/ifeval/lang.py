"""Response language through the project's language ID (fastText lid.176 with the script rules of
tasks/langid), and language names for descriptions.

The text is lowercased first: lid.176 takes all-capital English for Breton or gives it a near-zero
score, and case says nothing about the language. Chinese is 'zh' (a kwarg of 'zh-Hans'/'zh-Hant', or
langdetect's 'zh-cn'/'zh-tw' as IFEval-style files may hold, also asks for that script).
"""
from __future__ import annotations

from functools import lru_cache

MAX_CHARS = 10000
_ALIASES = {"zh-cn": ("zh", "Hans"), "zh-sg": ("zh", "Hans"), "zh-hans": ("zh", "Hans"),
            "zh-tw": ("zh", "Hant"), "zh-hk": ("zh", "Hant"), "zh-hant": ("zh", "Hant")}

# ISO 639-1 code -> (English name, Chinese name): IFEval's languages and a few more
NAMES = {
    "en": ("English", "英语"), "zh": ("Chinese", "中文"), "ar": ("Arabic", "阿拉伯语"),
    "bg": ("Bulgarian", "保加利亚语"), "bn": ("Bengali", "孟加拉语"), "de": ("German", "德语"),
    "es": ("Spanish", "西班牙语"), "fa": ("Persian", "波斯语"), "fi": ("Finnish", "芬兰语"),
    "fr": ("French", "法语"), "gu": ("Gujarati", "古吉拉特语"), "he": ("Hebrew", "希伯来语"),
    "hi": ("Hindi", "印地语"), "id": ("Indonesian", "印度尼西亚语"), "it": ("Italian", "意大利语"),
    "ja": ("Japanese", "日语"), "kn": ("Kannada", "卡纳达语"), "ko": ("Korean", "韩语"),
    "mr": ("Marathi", "马拉地语"), "ne": ("Nepali", "尼泊尔语"), "nl": ("Dutch", "荷兰语"),
    "pa": ("Punjabi", "旁遮普语"), "pl": ("Polish", "波兰语"), "pt": ("Portuguese", "葡萄牙语"),
    "ru": ("Russian", "俄语"), "sw": ("Swahili", "斯瓦希里语"), "ta": ("Tamil", "泰米尔语"),
    "te": ("Telugu", "泰卢固语"), "th": ("Thai", "泰语"), "tr": ("Turkish", "土耳其语"),
    "uk": ("Ukrainian", "乌克兰语"), "ur": ("Urdu", "乌尔都语"), "vi": ("Vietnamese", "越南语"),
}
_SCRIPT_NAMES = {"Hans": ("Simplified Chinese", "简体中文"), "Hant": ("Traditional Chinese", "繁体中文")}


def parse(code: str) -> tuple[str, str | None]:
    """A language kwarg as (language, Chinese script or None)."""
    low = code.strip().lower().replace("_", "-")
    return _ALIASES.get(low, (low, None))


def name(code: str, lang: str) -> str:
    base, script = parse(code)
    names = _SCRIPT_NAMES[script] if script else NAMES.get(base, (code, code))
    return names[1] if lang == "zh" else names[0]


@lru_cache(maxsize=1024)      # loose scoring asks again for each variant
def detect(text: str) -> tuple[str, str | None]:
    """(language, 'Hans'/'Hant' for Chinese else None) of a text."""
    from zhinao.tasks.langid.model import predict
    from zhinao.tasks.langid.script import chinese_script, identify

    sample = text[:MAX_CHARS]
    pred = predict([sample.lower()], k=1)[0]
    said, score = pred[0] if pred else ("und", 0.0)
    lang, _, _ = identify(said, min(score, 1.0), sample)
    return lang, chinese_script(sample) if lang == "zh" else None


def is_language(text: str, code: str) -> bool:
    base, script = parse(code)
    found, found_script = detect(text)
    return found == base and (script is None or found_script == script)
