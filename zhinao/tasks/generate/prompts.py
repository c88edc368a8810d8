"""Versioned prompt templates. A template's name, version and text enter the cache key of every
stage that uses it (`key()`): editing a prompt makes new versions, never silently mixes outputs.
Bump `version` on a deliberate change so the catalog shows which prompt made which data."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .api import Request

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    user: str
    system: str | None = None
    prefill: str = ""

    def request(self, seed: int | None = None, max_tokens: int = 256, temperature: float = 0.7,
                top_p: float = 0.95, **fields) -> Request:
        return Request.chat(self.user.format(**fields), system=self.system, prefill=self.prefill, seed=seed,
                            max_tokens=max_tokens, temperature=temperature, top_p=top_p)

    def key(self) -> str:
        digest = hashlib.sha256(f"{self.system}\x00{self.user}\x00{self.prefill}".encode()).hexdigest()[:8]
        return f"{self.name}/v{self.version}/{digest}"


def language_name(lang: str | None) -> str:
    return LANGUAGE_NAMES.get((lang or "en").split("-")[0], "English")


REWRITE = {
    "article": Template("rewrite-article", 1,
                        "Rewrite the web page below as a clear, well-organised article in {language}: a title "
                        "line, then short paragraphs. Keep every fact. Leave out menus, ads and boilerplate.\n\n"
                        "Web page:\n{text}"),
    "qa": Template("rewrite-qa", 1,
                   "Read the web page below. Write three questions a reader might ask about it, each followed "
                   "by its answer from the page, in {language}. Write each pair as two lines:\nQ: <question>\n"
                   "A: <answer>\n\nWeb page:\n{text}", prefill="Q:"),
    "notes": Template("rewrite-notes", 1,
                      "Turn the web page below into concise study notes in {language}: a title line, then "
                      "bullet points that each start with '- ' and state one fact.\n\nWeb page:\n{text}"),
}

TOPICS = Template("synth-topics", 1,
                  "Read the text below. Name its main topic and three narrower sub-topics.\nAnswer in exactly "
                  "this format:\nTopic: <topic>\nSubtopics: <sub-topic>; <sub-topic>; <sub-topic>\n\nText:\n{text}",
                  prefill="Topic:")

SYNTH = {
    "math": Template("synth-math", 1,
                     "Write a new math word problem about {subtopic} (topic: {topic}) that needs a few "
                     "calculation steps. Then solve it step by step and give the final answer as a number.\n"
                     "Use exactly this format:\nProblem: <problem>\nSolution: <steps>\nFinal answer: <number>",
                     prefill="Problem:"),
    "code": Template("synth-code", 1,
                     "Write a short Python function for a task about {subtopic} (topic: {topic}), then explain "
                     "what it does.\nUse exactly this format:\nTask: <one sentence>\n```python\n<code>\n```\n"
                     "Explanation: <what the code does and how>", prefill="Task:"),
    "instruction": Template("synth-instruction", 1,
                            "Write one request that a user might give an AI assistant about {subtopic} "
                            "(topic: {topic}), then a helpful, complete answer.\nUse exactly this format:\n"
                            "Instruction: <request>\nResponse: <answer>", prefill="Instruction:"),
}

EVOLVE = {  # Evol-Instruct style "deepening": the previous round's item becomes harder
    "math": Template("evolve-math", 1,
                     "Here is a math problem:\n{prompt}\n\nWrite a harder version of it (add a condition or "
                     "more steps), then solve the new problem step by step.\nUse exactly this format:\n"
                     "Problem: <harder problem>\nSolution: <steps>\nFinal answer: <number>", prefill="Problem:"),
    "code": Template("evolve-code", 1,
                     "Here is a programming task:\n{prompt}\n\nWrite a harder version of it (add a requirement or "
                     "an edge case to handle), solve it in Python and explain the solution.\nUse exactly this "
                     "format:\nTask: <harder task>\n```python\n<code>\n```\nExplanation: <explanation>",
                     prefill="Task:"),
    "instruction": Template("evolve-instruction", 1,
                            "Here is a request to an AI assistant:\n{prompt}\n\nRewrite it into a harder, more "
                            "specific request (add a constraint or a requirement), then answer the new request."
                            "\nUse exactly this format:\nInstruction: <harder request>\nResponse: <answer>",
                            prefill="Instruction:"),
}

JUDGE = Template("judge-scores", 2,
                 "You are a strict reviewer of training data. Read the {kind} sample below, then rate it from 1 "
                 "(poor) to 10 (excellent) on four dimensions: correctness, difficulty, clarity and usefulness."
                 "\nReply with one JSON object with exactly these keys and integer values: "
                 "{{\"correctness\": <1-10>, \"difficulty\": <1-10>, \"clarity\": <1-10>, "
                 "\"usefulness\": <1-10>}}\n\nPrompt:\n{prompt}\n\nResponse:\n{response}",
                 prefill="{\"correctness\":")

RESOLVE = Template("judge-resolve-math", 1,
                   "Solve this problem. Show brief steps, then give the final answer on the last line as "
                   "'Final answer: <number>'.\n\n{prompt}")

PROGRAM = Template("judge-program-math", 1,
                   "Write a short Python program that computes the answer to this problem and prints only the "
                   "final number.\n\n{prompt}", prefill="```python\n")


def templates_key(*groups) -> dict[str, str]:
    """{template name: versioned key} for the cache key of a stage using these templates."""
    out = {}
    for g in groups:
        for t in (g.values() if isinstance(g, dict) else [g]):
            out[t.name] = t.key()
    return out
