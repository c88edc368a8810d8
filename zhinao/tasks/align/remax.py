"""ReMax (Li et al. 2023): REINFORCE whose baseline is the reward of the greedy answer to the same
prompt, so no value network and no group statistics. TRL has no ReMax; this is GRPOTrainer with one
change, the advantage: the rollouts (sampled answers), the reward functions and their weights, the
clipped policy-gradient update, the KL to the reference and the checkpoints are GRPO's own.

advantage(prompt, answer_i) = r(prompt, answer_i) - r(prompt, greedy answer)

The greedy answer is decoded by the policy as it stands at the rollout, with the same prompt
template and length limit; greedy decoding draws no random numbers, so the sampling RNG, and with
it a resumed run, is the same as GRPO's."""
from __future__ import annotations

import torch
from trl import GRPOTrainer

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("trl", "transformers", "torch")}


class ReMaxTrainer(GRPOTrainer):
    _greedy_pass = False

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if not self._greedy_pass:
            self._sampled_rewards = rewards          # (all processes' completions, reward functions)
        return rewards

    def _weighted(self, per_func: torch.Tensor) -> torch.Tensor:
        w = self.reward_weights.to(per_func.device).unsqueeze(0)
        total = (per_func * w).nansum(dim=1)
        total[torch.isnan(per_func).all(dim=1)] = torch.nan
        return total

    def greedy_answers(self, prompts: list) -> tuple[list, list[list[int]]]:
        """The policy's greedy answer to each prompt: (completions as TRL gives them, token ids)."""
        from trl.data_utils import is_conversational
        from trl.models import unwrap_model_for_generation

        prompt_ids, _, _ = self._tokenize_prompts(prompts)
        tok = self.processing_class
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        width = max(len(p) for p in prompt_ids)
        ids = torch.full((len(prompt_ids), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompt_ids):                 # left-padded, as generation wants
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        with unwrap_model_for_generation(self.model_wrapped, self.accelerator) as model, torch.no_grad():
            out = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                                 do_sample=False, max_new_tokens=self.max_completion_length,
                                 pad_token_id=pad, eos_token_id=self.eos_token_ids)
        completion_ids = []
        for row in out[:, width:].tolist():
            cut = next((k + 1 for k, t in enumerate(row) if t in self.eos_token_ids), len(row))
            completion_ids.append([t for t in row[:cut] if t != pad or t in self.eos_token_ids])
        texts = tok.batch_decode(completion_ids, skip_special_tokens=True)
        if is_conversational({"prompt": prompts[0]}):
            return [[{"role": "assistant", "content": t}] for t in texts], completion_ids
        return texts, completion_ids

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        g = self.num_generations if mode == "train" else self.num_generations_eval
        firsts = inputs[::g]                               # the sampler repeats each prompt g times in a row
        prompts = [x["prompt"] for x in firsts]
        completions, ids = self.greedy_answers(prompts)
        self._greedy_pass = True
        try:
            baseline = self._weighted(super()._calculate_rewards(firsts, prompts, completions, ids))
        finally:
            self._greedy_pass = False
        start = self.accelerator.process_index * len(inputs)
        sampled = self._weighted(self._sampled_rewards)[start:start + len(inputs)]
        advantages = torch.nan_to_num(sampled - baseline.repeat_interleave(g), nan=0.0)
        out["advantages"] = advantages.to(out["advantages"].device, out["advantages"].dtype)
        self._metrics[mode]["remax/greedy_reward"].append(torch.nanmean(baseline).item())
        self._metrics[mode]["remax/advantage_mean"].append(advantages.mean().item())
        return out
