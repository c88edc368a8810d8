"""Text units the checkers count, defined for Chinese and English alike.

- words: IFEval counts runs of word characters (`\\w+`); that makes a Chinese sentence one word.
  Text holding Han characters (or kana) is segmented with jieba (rjieba) as a whole: a token with
  Han in it is one word, any other token counts its `\\w+` runs, so English in Chinese text counts
  as IFEval counts it and pure English keeps IFEval's count exactly.
- sentences: end at 。！？；… (always: Chinese puts no space after them) and at ASCII . ! ? ; and
  "..." when followed by whitespace, the end or a non-Latin character; a lone "." after a title
  abbreviation (Mr., e.g.) or a list number at a line start ("1.") ends nothing. Closing quotes,
  brackets and markdown emphasis stay with their sentence; pieces without a word character are not sentences.
- Latin letters: A-Z, Latin-1 and Latin Extended-A/B letters, with full-width Ａ-Ｚ/ａ-ｚ folded to
  ASCII. Case rules and letter counts see only these.
- match(): NFKC + casefold, so full-width and ASCII forms (？/?, ：/:, Ｐ/P) and case compare equal.
"""
from __future__ import annotations

import re
import unicodedata

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("rjieba",)}

HAN_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"\w+")
LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
LATIN_LETTER = re.compile(f"[{LATIN}]")
LATIN_WORD = re.compile(rf"[{LATIN}0-9]+(?:['’\-][{LATIN}0-9]+)*")
_FULLWIDTH_LETTERS = str.maketrans({chr(c): chr(c - 0xFEE0)
                                    for c in [*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]})

CJK_ENDS = "。！？；…"
CLOSERS = "\"'”’」』）)]】》*_"     # closing quotes and brackets, markdown emphasis
_END = re.compile(rf"(?:[{CJK_ENDS}]|[.!?;])+[{re.escape(CLOSERS)}]*")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "cf", "no"}
_LAST_TOKEN = re.compile(r"(\S*)$")


def words(text: str) -> list[str]:
    if not HAN_RUN.search(text):
        return WORD.findall(text)
    import rjieba

    out: list[str] = []
    for token in rjieba.cut(text):      # the whole text, so jieba sees each Han run in context
        out += [token] if HAN_RUN.search(token) else WORD.findall(token)
    return out


def _ends_sentence(text: str, mark: re.Match) -> bool:
    if any(c in CJK_ENDS for c in mark.group()):
        return True
    after = text[mark.end():mark.end() + 1]
    if after and not after.isspace() and ord(after) < 0x2E80:    # 3.14, e.g., a?b=1, v1.2
        return False
    if mark.group().rstrip(CLOSERS) == ".":
        before = text[:mark.start()]
        token = _LAST_TOKEN.search(before).group(1)
        if token.lower() in _ABBREVIATIONS:
            return False
        if token.isdigit() and before.rsplit("\n", 1)[-1].strip() == token:     # "1." list marker
            return False
    return True


def sentences(text: str) -> list[str]:
    out, start = [], 0
    for mark in _END.finditer(text):
        if _ends_sentence(text, mark):
            out.append(text[start:mark.end()])
            start = mark.end()
    out.append(text[start:])
    return [s.strip() for s in out if WORD.search(s)]


def paragraphs(text: str) -> list[str]:
    """Blocks between blank lines (a line of only whitespace counts as blank)."""
    return [p.strip() for p in re.split(r"\n[ \t\r\f\v]*\n", text.replace("\r\n", "\n")) if p.strip()]


def latin(text: str) -> str:
    """The text with full-width Latin letters as ASCII ones."""
    return text.translate(_FULLWIDTH_LETTERS)


def latin_letters(text: str) -> list[str]:
    return LATIN_LETTER.findall(latin(text))


def latin_words(text: str) -> list[str]:
    """Words with at least one Latin letter ("3D" yes, "2024" no); CJK text around them does not join."""
    return [w for w in LATIN_WORD.findall(latin(text)) if LATIN_LETTER.search(w)]


def match(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def has_han(text: str) -> bool:
    return HAN_RUN.search(text) is not None
