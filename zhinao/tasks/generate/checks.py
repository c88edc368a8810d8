"""Bad model output, named: every generation is checked before it is kept, and a failure is a drop
reason (counted in the stage's statistics), never an exception that sinks the batch."""
from __future__ import annotations

import re

from ..langid.model import predict
from ..langid.script import identify
from ..quality.gopher import GopherRepetitionConfig, gopher_repetition
from ..quality.text import Doc
from .api import Completion

# generations are short: Gopher's document thresholds, a little looser on n-grams (lists and
# step-by-step solutions repeat short phrases legitimately)
_REPETITION = GopherRepetitionConfig(top_n_grams={2: 0.25, 3: 0.22, 4: 0.2},
                                     dup_n_grams={5: 0.25, 6: 0.24, 7: 0.23, 8: 0.22, 9: 0.21, 10: 0.2})
# n-gram shares mean little on a few dozen words: short answers are judged by repeated lines only
_SHORT = GopherRepetitionConfig(top_n_grams={}, dup_n_grams={})
_SHORT_WORDS = 60


def base_lang(lang: str | None) -> str | None:
    """'zh-Hans' -> 'zh'; None stays None (no expectation)."""
    return lang.split("-")[0].split("_")[0].lower() if lang else None


def detect_lang(text: str) -> tuple[str, float]:
    pred = predict([text[:4000]], k=1)[0]
    lang, score = pred[0] if pred else ("und", 0.0)
    lang, score, _ = identify(lang, min(score, 1.0), text[:4000])   # the langid stage's script rules
    return lang, score


_SENTENCE_END = re.compile(r"[.!?。！？…\"'”’)）]\s*$")


def trim_truncated(c: Completion) -> Completion:
    """A generation cut at max_tokens, trimmed back to its last complete paragraph (or sentence):
    what is left is finished text, kept when long enough. Other completions pass unchanged."""
    if c.finish_reason != "length":
        return c
    paras = [p for p in re.split(r"\n\s*\n", c.text.strip())]
    while paras and not _SENTENCE_END.search(paras[-1]):
        last = paras.pop()
        cut = max(last.rfind(x) for x in (". ", "! ", "? ", "。", "！", "？"))
        if cut > 0:
            paras.append(last[:cut + 1])
            break
    text = "\n\n".join(paras)
    return Completion(text, "stop" if text else "length", c.prompt_tokens, c.completion_tokens, c.error)


def output_problem(c: Completion, expect_lang: str | None = None, min_chars: int = 1,
                   allow_truncated: bool = False, lang_min_score: float = 0.5) -> str | None:
    """The drop reason for a generation, or None when it is usable."""
    if c.finish_reason == "error":
        return "generation_error"
    if c.finish_reason == "length" and not allow_truncated:
        return "truncated"
    text = c.text.strip()
    if len(text) < min_chars:
        return "empty"
    want = base_lang(expect_lang)
    doc = Doc(text, want)
    if gopher_repetition(doc, _REPETITION if len(doc.words) >= _SHORT_WORDS else _SHORT)[1] is not None:
        return "repetitive"
    if want and want != "und":
        got, score = detect_lang(text)
        if got != want and score >= lang_min_score:
            return "wrong_language"
    return None
