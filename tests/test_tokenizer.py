"""The project's BPE tokenizer: trained as a model version on the mixture, digits split, chat tokens,
lossless on any text, loadable by transformers, with a compression report against other tokenizers."""
import pyarrow as pa
import pytest

from zhinao.flows.stage import execute_stage
from zhinao.tasks.tokenizer.stage import TOKENIZER, TokenizerParams
from zhinao.tasks.corpus.labelled import labelled_articles
from zhinao.tasks.home import open_store


@pytest.fixture
def mix():
    rows = [{"id": r["id"], "text": r["text"], "lang": r["lang"]} for r in labelled_articles(12)]
    return open_store().import_tables("mix-stage1", [pa.Table.from_pylist(rows)]).ref


def test_tokenizer_version_encodes_losslessly_and_reports_compression(mix, smollm2, zhinao_home):
    from transformers import AutoTokenizer

    r = execute_stage(TOKENIZER, TokenizerParams(use_ray=False, vocab_size=3000), inputs={"mix-stage1": mix})
    store = open_store()
    m = store.resolve(r.ref)
    assert m.kind == "model" and m.parents == [mix]
    folder = store.model_path(m)
    tok = AutoTokenizer.from_pretrained(folder)
    for text in ("The 2024 budget rose by 15%.", "上海市政府周一宣布新增1200套设备。", "emoji 🙂 and tabs\tok"):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text                                   # byte-level: nothing is unknown
    assert len(tok("2024", add_special_tokens=False)["input_ids"]) == 4  # one token per digit
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert len(tok("<|im_start|>", add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == "<|endoftext|>" and tok.pad_token == "<|pad|>"

    table = {(row["tokenizer"], row["lang"]): row for row in r.stats["tables"]["compression"]}
    assert {name for name, _ in table} == {"ours", "smollm2-135m-instruct", "all-MiniLM-L6-v2"}
    assert {lang for _, lang in table} == {"en", "zh"}
    # trained on this Chinese, ours packs it tighter than SmolLM2's English-centric vocabulary
    assert table[("ours", "zh")]["chars_per_token"] > table[("smollm2-135m-instruct", "zh")]["chars_per_token"]
    assert list((zhinao_home / "reports").glob("tokenizer-*-compression.png"))
    assert execute_stage(TOKENIZER, TokenizerParams(use_ray=False, vocab_size=3000), inputs={"mix-stage1": mix}).cache_hit
    with pytest.raises(Exception, match="is neither"):
        execute_stage(TOKENIZER, TokenizerParams(use_ray=False, compare_with=["/no/such/tokenizer.json"]),
                      inputs={"mix-stage1": mix})
