"""Token shards: the mixture packed into uint32 streams with document offsets, re-weighting by
column, and deterministic training windows."""
import numpy as np
import pyarrow as pa
import pytest
import torch

from zhinao.flows.stage import execute_stage
from zhinao.tasks.tokens.stage import TOKENS_STAGE1, TokenizeParams
from zhinao.tasks.tokenizer.stage import TOKENIZER, TokenizerParams
from zhinao.model.data import TokenWindows
from zhinao.tasks.corpus.labelled import labelled_articles
from zhinao.tasks.home import open_store
from zhinao.tasks.tokens.pack import copies, load_tokenizer, read_tokens


@pytest.fixture
def mix_and_tokenizer():
    rows = [{"id": r["id"], "text": r["text"], "lang": r["lang"], "mix_source": "web" if i % 2 else "rewritten_web"}
            for i, r in enumerate(labelled_articles(3))]
    store = open_store()
    mix = store.import_tables("mix-stage1", [pa.Table.from_pylist(rows[:40]), pa.Table.from_pylist(rows[40:])]).ref
    tok = execute_stage(TOKENIZER, TokenizerParams(use_ray=False, vocab_size=2000, compare_with=[]),
                        inputs={"mix-stage1": mix}).ref
    return mix, tok, rows


def test_documents_pack_into_token_shards_with_offsets(mix_and_tokenizer):
    mix, tok, rows = mix_and_tokenizer
    store = open_store()
    r = execute_stage(TOKENS_STAGE1, TokenizeParams(use_ray=False), inputs={"mix-stage1": mix, "tokenizer": tok})
    m = store.resolve(r.ref)
    assert m.kind == "tokens" and m.parents == [mix, tok]
    folder = store.model_path(m, "tokens")
    tokenizer = load_tokenizer(str(store.model_path(tok)))
    eos = tokenizer.token_to_id("<|endoftext|>")
    tokens, starts = read_tokens(folder, "tokens-00000")
    assert m.rows == r.stats["counters"]["tokens"] == sum(s.rows for s in m.shards if s.path.endswith(".bin"))
    assert len(starts) == 41 and starts[-1] == len(tokens)
    for k in (0, 7, 39):                       # every document decodes back, followed by EOS
        doc = tokens[starts[k]:starts[k + 1]]
        assert doc[-1] == eos and tokenizer.decode(doc[:-1].tolist()) == rows[k]["text"]
    weighted = execute_stage(TOKENS_STAGE1, TokenizeParams(use_ray=False, weights={"mix_source": {"web": 2.0,
                             "rewritten_web": 0.5}}), inputs={"mix-stage1": mix, "tokenizer": tok})
    c = weighted.stats["counters"]
    assert c["docs_in"] == len(rows) and len(rows) < c["docs_out"] < 2 * len(rows)
    expected = sum(copies(r, {"mix_source": {"web": 2.0, "rewritten_web": 0.5}}, 0) for r in rows)
    n_web = sum(r["mix_source"] == "web" for r in rows)
    assert c["docs_out"] == expected and 2 * n_web < expected < 2 * n_web + (len(rows) - n_web)
    with pytest.raises(ValueError, match="not a tokenizer"):
        execute_stage(TOKENS_STAGE1, TokenizeParams(use_ray=False), inputs={"mix-stage1": mix, "tokenizer": mix})


def test_training_windows_are_deterministic_and_split_by_rank(tmp_path):
    stream = np.arange(1000, dtype="<u4")
    stream.tofile(tmp_path / "tokens-00000.bin")
    np.array([0, 1000], dtype="<i8").tofile(tmp_path / "tokens-00000.idx")
    a, b = TokenWindows(tmp_path, 16, seed=1), TokenWindows(tmp_path, 16, seed=1)
    assert len(a) == 62 and a.tokens == 1000
    x, y = a.batch(3, 4)
    assert torch.equal(x, b.batch(3, 4)[0]) and torch.equal(x[:, 1:], y[:, :-1]) and x.shape == (4, 16)
    assert not torch.equal(x, TokenWindows(tmp_path, 16, seed=2).batch(3, 4)[0])
    r0, r1 = a.batch(0, 2, rank=0, world=2)[0], a.batch(0, 2, rank=1, world=2)[0]
    assert not set(r0[:, 0].tolist()) & set(r1[:, 0].tolist())           # ranks read different windows
    with pytest.raises(ValueError, match="lower seq_len"):
        TokenWindows(tmp_path, 2000)
