"""tokens-stage1 / tokens-stage2: a mixture tokenized by a tokenizer version and packed into
memory-mappable token shards (kind "tokens"; rows = tokens), what pretraining reads."""
import tempfile
from pathlib import Path

from pydantic import Field

from zhinao.tasks.bounds import NonNegative
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.mix.resolve import empty_mixture
from zhinao.tasks.params import StageParams
from zhinao.tasks.tokens.pack import pack_shard, write_document_index, write_tokens


class TokenizeParams(StageParams):
    eos_token: str = Field("<|endoftext|>", description="Appended after every document.")
    weights: dict[str, dict[str, NonNegative]] = Field(default_factory=dict, description=(
        "Re-weighting by column value, e.g. {'mix_source': {'web': 0.5, 'synthetic_math': 2}}: copies per "
        "document (fractions decided by id hash). Empty: the mixture as it is."))
    seed: int = 0


def plan(p: TokenizeParams, parents, store) -> Plan:
    mix, tok = parents
    empty = empty_mixture(mix)
    if empty:       # else an empty token version, and pretraining fails on it far from the cause
        raise ValueError(f"{empty}; nothing to tokenize")
    if tok.kind != "model":
        raise ValueError(f"{tok.ref} is a {tok.kind} version, not a tokenizer")
    folder = store.model_path(tok)
    if not (folder / "tokenizer.json").exists():
        raise ValueError(f"{tok.ref} has no tokenizer.json")
    return Plan(splits=[{"root": store.root, "path": path, "tokenizer": str(folder)} for path in store.shard_paths(mix)])


def pack_split(split: dict, params, sink, stats) -> None:
    tokens, starts, ids = pack_shard(split["root"], split["path"], split["tokenizer"], params, stats)
    with tempfile.TemporaryDirectory() as tmp:
        write_tokens(Path(tmp), f"tokens-{split['index']:05d}", tokens, starts)
        write_document_index(Path(tmp), f"tokens-{split['index']:05d}", ids, starts)
        before = len(sink.shards)
        sink.write_files(Path(tmp))
    for shard in sink.shards[before:]:       # a token file's rows are its tokens: the manifest adds them up
        if shard.path.endswith(".bin"):
            shard.rows = int(tokens.size)


def run(ctx):
    return ctx.final(pack_split, [s | {"index": i} for i, s in enumerate(ctx.plan.splits)], desc="tokenize + pack")


def skip_empty_mixture(refs: list[str], store) -> str | None:
    """A first small crawl can leave stage 2's high-quality filters nothing: the model pipeline then
    skips stage 2 (and stage 1 trains as usual)."""
    return empty_mixture(store.resolve(refs[0]))


def tokenize_stage(name: str, mix: str, skip_when=None) -> Stage:
    return Stage(name=name, params=TokenizeParams, plan=plan, process=pack_split, schema=None, run=run,
                 kind="tokens", tags=("model",), code=("zhinao.tasks.tokens",), inputs=(mix, "tokenizer"),
                 pipeline="model", skip_when=skip_when,
                 description=f"The {mix} mixture tokenized and packed into uint32 token shards with document "
                             "offsets (memory-mappable), for pretraining.")


TOKENS_STAGE1 = tokenize_stage("tokens-stage1", "mix-stage1")
TOKENS_STAGE2 = tokenize_stage("tokens-stage2", "mix-stage2", skip_empty_mixture)
