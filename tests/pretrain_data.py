"""Token shards for pretraining tests: labelled sample articles as two mixtures, a tokenizer trained
on the first, both packed (no Prefect needed)."""
import pyarrow as pa

from zhinao.flows.stage import execute_stage
from zhinao.tasks.tokens.stage import TOKENS_STAGE1, TOKENS_STAGE2, TokenizeParams
from zhinao.tasks.tokenizer.stage import TOKENIZER, TokenizerParams
from zhinao.tasks.corpus.labelled import labelled_articles
from zhinao.tasks.home import open_store


def token_versions(per_topic: int = 3) -> dict[str, str]:
    rows = [{"id": r["id"], "text": r["text"], "lang": r["lang"]} for r in labelled_articles(per_topic)]
    store = open_store()
    mix1 = store.import_tables("mix-stage1", [pa.Table.from_pylist(rows)]).ref
    mix2 = store.import_tables("mix-stage2", [pa.Table.from_pylist(rows[::3])]).ref
    tok = execute_stage(TOKENIZER, TokenizerParams(use_ray=False, vocab_size=1500, compare_with=[]),
                        inputs={"mix-stage1": mix1}).ref
    quiet = TokenizeParams(use_ray=False)
    return {"tokenizer": tok,
            "tokens-stage1": execute_stage(TOKENS_STAGE1, quiet, inputs={"mix-stage1": mix1, "tokenizer": tok}).ref,
            "tokens-stage2": execute_stage(TOKENS_STAGE2, quiet, inputs={"mix-stage2": mix2, "tokenizer": tok}).ref}
