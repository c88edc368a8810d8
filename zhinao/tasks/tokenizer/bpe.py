"""A bilingual byte-level BPE (Hugging Face `tokenizers`): every digit its own token, GPT-2 style
byte-level pre-tokenization (so any text, any script, encodes without unknown tokens), and the chat
special tokens post-training needs (ChatML: <|im_start|> role ... <|im_end|>)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("tokenizers",)}

EOS = "<|endoftext|>"
PAD = "<|pad|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL = [EOS, PAD, IM_START, IM_END]
CHAT_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
                 "+ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                 "{% endif %}")


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def save_tokenizer(tok, folder: Path) -> Path:
    """tokenizer.json plus the config files transformers reads (special tokens, chat template)."""
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in SPECIAL}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOS, "eos_token": EOS, "pad_token": PAD,
              "unk_token": None, "bos_token_id": ids[EOS], "eos_token_id": ids[EOS], "pad_token_id": ids[PAD],
              "additional_special_tokens": [IM_START, IM_END], "model_max_length": 1_000_000,
              "chat_template": CHAT_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": EOS, "eos_token": EOS, "pad_token": PAD, "additional_special_tokens": [IM_START, IM_END]},
        indent=2))
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return folder
