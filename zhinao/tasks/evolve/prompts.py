"""Prompt templates of instruction evolution (versioned like zhinao/tasks/generate/prompts.py: a template's
key enters the stage's version id). The ideas are self-instruct's (new tasks from a few sampled
ones) and WizardLM's Evol-Instruct (rewrite an instruction harder in depth, or a new one in breadth),
written for this project."""
from __future__ import annotations

from ..generate.prompts import Template

SELF_INSTRUCT = Template(
    "evolve-self-instruct", 1,
    "You are asked to come up with new tasks that a user might give an AI assistant. Here are some "
    "examples:\n{examples}\n\nWrite {n} new tasks in {language}. Make them different from the examples "
    "and from each other: vary the topic and the kind of task (a question, writing, code, math, planning, "
    "classification, rewriting ...). Each task must be answerable in text alone, without images, files or "
    "browsing. Write one task per line, numbered from 1 to {n}, and nothing else.",
    prefill="1.")

# Evol-Instruct in depth: one way of making an instruction harder per request
DEPTH_OPS = {
    "constraints": "Add one more constraint or requirement to it.",
    "deepen": "If it asks about a particular issue, make it ask about that issue in more depth and breadth.",
    "concretize": "Replace its general concepts with more specific ones.",
    "reasoning": "If a few simple thoughts solve it, rewrite it so that it explicitly asks for reasoning in "
                 "several steps.",
}

DEPTH = Template(
    "evolve-depth", 1,
    "Rewrite the instruction below into a more demanding version, one that even strong AI assistants find "
    "harder, while a person can still understand and answer it. {how} Add no more than 10 to 20 words, keep "
    "any input it contains (a text, a table, code), and write it in {language}. Reply with the rewritten "
    "instruction only.\n\nInstruction:\n{instruction}",
    prefill="Rewritten instruction:")

BREADTH = Template(
    "evolve-breadth", 1,
    "Take the instruction below as inspiration and write a brand-new instruction in the same domain, on a "
    "rarer, more specific topic. It should be about as long and as hard as the original, and a person should "
    "be able to understand and answer it. Write it in {language}. Reply with the new instruction only.\n\n"
    "Instruction:\n{instruction}",
    prefill="New instruction:")

TEMPLATES = {"self-instruct": SELF_INSTRUCT, "evol-depth": DEPTH, "evol-breadth": BREADTH}
