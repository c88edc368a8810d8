"""A generator stand-in for instruct-evolve: known answers to each kind of request the stage makes."""
from zhinao.tasks.generate.api import Completion


class StandIn:
    """Answers each kind of request the stage makes with known text: self-instruct lists that repeat
    one example (ROUGE-L must drop it), depth rewrites (the 'concretize' one unchanged: not evolved),
    breadth tasks, plain responses, and constrained responses that comply in English only."""

    def __init__(self):
        self.calls = []

    def _answer(self, user: str, prefill: str, temperature: float) -> str:
        zh = "in Chinese" in user
        if user.startswith("You are asked to come up with new tasks"):
            example = user.split("\n")[2].split(". ", 1)[1]
            tasks = (["介绍一下潮汐是怎样形成的，并说明月球的作用。", "列出三座著名的桥以及它们所在的城市。"] if zh else
                     ["Describe how ocean tides form and what the moon does.",
                      "Name three famous bridges and the cities they stand in."])
            return f"1. {tasks[0]}\n2. {example}\n3. {tasks[1]}"
        if user.startswith("Rewrite the instruction below"):
            original = user.rsplit("Instruction:\n", 1)[1]
            if "more specific ones" in user:
                return f"{prefill} {original}"
            extra = "请分步骤说明，并给出两个例子。" if zh else " Explain every step and give two worked examples."
            return f"{prefill} {original}{extra}"
        if user.startswith("Take the instruction below"):
            return f"{prefill} " + ("写一份照顾盆景树的简短指南，包括浇水和修剪。" if zh else
                                    "Write a short guide to caring for a bonsai tree, covering water and pruning.")
        if "commas" in user or "quotation marks" in user or "逗号" in user or "双引号" in user:
            if "\u4e00" <= user[0] <= "\u9fff":
                return "这是我的回答，里面有逗号，而且整个回答没有用双引号括起来。"
            return '"Here is my answer and it has no commas at all so it complies."'
        # an answer of its own per instruction: the stage's near-duplicate filter must keep them all
        if "\u4e00" <= user[0] <= "\u9fff":
            return "".join(reversed(user)) + "。这就是完整的回答，适合初学者阅读。"
        return " ".join(reversed(user.split())) + " - that is the whole answer, explained for a beginner."

    def generate(self, requests):
        out = []
        for r in requests:
            user = r.messages[-1][1]
            self.calls.append(user)
            out.append(Completion(self._answer(user, r.prefill, r.sampling.temperature), "stop", 10, 20))
        return out
