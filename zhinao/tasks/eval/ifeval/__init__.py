"""IFEval-style verifiable instructions (Zhou et al. 2023), meaningful on Chinese and English.

Checkers by IFEval id with their kwargs (`build`), descriptions in English and Chinese and seeded
random kwargs for instruction evolution (`make`, `add_constraints`), IFEval's file layouts
(`read_inputs`, `read_responses`), strict/loose scoring (`evaluate`; `complies` and `reward` for
filtering and RL) and a default bilingual prompt set (`default_prompts`).

Chinese rules, in short (the module docstrings say more): words are jieba words where the text has
Han characters, IFEval's `\\w+` runs elsewhere; sentences end at 。！？；… (no space needed after them);
a Han keyword or forbidden word matches as a substring; phrases and markers compare width- and
case-insensitively (？ = ?); no_comma forbids , ， and 、; quotes may be “” 「」 『』; placeholders
［］ 【】; case rules see Latin letters only and english_* need English by the language ID (pure
Chinese fails them); response_language uses tasks/langid (lid.176 + script rules) and knows zh,
zh-Hans and zh-Hant.
"""
from .base import IFEvalError, Instruction
from .compose import add_constraints, make
from .data import InputRecord, default_prompts, parse_record, read_inputs, read_responses, write_jsonl
from .registry import INSTRUCTIONS, build, conflicting, conflicts, family
from .score import PromptResult, complies, evaluate, follows, reward, score, summarize, variants

__all__ = ["IFEvalError", "Instruction", "build", "add_constraints", "make", "InputRecord", "default_prompts",
           "parse_record", "read_inputs", "read_responses", "write_jsonl", "INSTRUCTIONS", "conflicting",
           "conflicts", "family", "PromptResult", "complies", "evaluate", "follows", "reward", "score", "summarize",
           "variants"]
