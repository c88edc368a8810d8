"""Script evidence that fixes lid.176's known CJK confusions and tells zh-Hans from zh-Hant."""
from __future__ import annotations

import re
from dataclasses import dataclass

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("zhconv",)}

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
CJK = re.compile(f"{HAN.pattern}|{KANA.pattern}|{HANGUL.pattern}")
URL = re.compile(r"\S+://\S+|www\.\S+")
WORD = re.compile(r"[^\W\d_]+")       # a run of letters: outside CJK, one word
CJK_LANGS = ("ja", "zh", "ko", "wuu", "yue")
MOSTLY_CJK = 0.8    # share of letters in CJK scripts from which the script decides, whatever lid.176 said


@dataclass(frozen=True)
class Scripts:
    han: int
    kana: int
    hangul: int
    words: int      # words in other scripts (URLs left out)

    @property
    def cjk_share(self) -> float:
        """CJK characters among the letters, counting a word of another script as one letter: a
        Chinese character carries about a word, so a brand name in Chinese text weighs like one."""
        cjk = self.han + self.kana + self.hangul
        return cjk / (cjk + self.words) if cjk else 0.0

    def marks(self, n: int) -> bool:
        """A few kana (or hangul) in Han text can be a quoted word; Japanese writes them throughout."""
        return n >= max(3, 0.05 * self.han)


def scripts(text: str) -> Scripts:
    text = URL.sub(" ", text)
    return Scripts(len(HAN.findall(text)), len(KANA.findall(text)), len(HANGUL.findall(text)),
                   len(WORD.findall(CJK.sub(" ", text))))


def correct_cjk(lang: str, text: str, found: Scripts | None = None) -> str:
    """Japanese always writes kana among its kanji and Korean writes hangul; Chinese has neither.
    lid.176 labels some short Chinese sentences 'ja', 'ko' or an unrelated language ('eo', 'es',
    'sr' ...), and kanji-heavy Japanese 'zh': on CJK text the script decides."""
    s = found or scripts(text)
    if lang not in CJK_LANGS and s.cjk_share < MOSTLY_CJK:
        return lang
    if s.hangul > max(s.han, s.kana):
        return "ko"
    if s.marks(s.kana):
        return "ja"
    if s.marks(s.hangul):
        return "ko"
    if s.han and lang != "yue":      # Cantonese: lid.176 tells it by its words, which scripts cannot
        return "zh"
    return lang


def identify(lang: str, score: float, text: str) -> tuple[str, float, str]:
    """(language, score, method) from lid.176's top label and the text: method 'model' keeps its
    label, 'script' is a correction by script evidence. A correction keeps the model's score when it
    said a CJK language (its confidence that the text is CJK) but is at least the text's CJK share:
    a score lid.176 gave a language the script rules out says nothing about the corrected one."""
    found = scripts(text)
    fixed = correct_cjk(lang, text, found)
    if fixed == lang:
        return lang, score, "model"
    return fixed, max(score if lang in CJK_LANGS else 0.0, found.cjk_share), "script"


def chinese_script(text: str, sample: int = 4000) -> str:
    """'Hant' when a noticeable share of the Han characters change under conversion to simplified."""
    import zhconv

    han = "".join(HAN.findall(text[:sample]))
    if not han:
        return "Hans"
    simplified = zhconv.convert(han, "zh-hans")
    changed = sum(a != b for a, b in zip(han, simplified))
    return "Hant" if changed >= max(2, 0.05 * len(han)) else "Hans"
