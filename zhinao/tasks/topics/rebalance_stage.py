"""rebalance: per language, over-represented topics are down-sampled (cap at k x the median topic,
or explicit target shares), deterministically by id hash. The before/after distribution is a table
and a bar chart by language."""
from collections import Counter
from functools import partial

from pydantic import Field, model_validator

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import ShardMap
from zhinao.tasks.runtime.sampling import threshold
from zhinao.tasks.settings import get_settings
from zhinao.tasks.stats import StageStats
from zhinao.tasks.topics.charts import plot_distribution
from zhinao.tasks.topics.rebalance import count_groups, downsample_batch, split_group, targets


class RebalanceParams(StageParams):
    cap_factor: float | None = Field(2.0, gt=0, description="Cap every topic of a language at this many times "
                                     "the language's median topic count (None: no cap).")
    target_shares: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Per language, explicit topic shares ({'zh': {'news_politics': 0.1}}); "
        "the language is resized to the largest corpus with those shares, unlisted topics keep their natural "
        "share. Overrides cap_factor for that language.")
    min_docs: int = Field(1, ge=1, description="A cap never goes below this many documents.")
    lang_column: str = "lang"
    topic_column: str = "topic"
    seed: int = 0

    @model_validator(mode="after")
    def _shares(self):
        for lang, shares in self.target_shares.items():
            bad = {t: v for t, v in shares.items() if not 0 <= v <= 1}
            if bad or sum(shares.values()) > 1 + 1e-6:
                raise ValueError(f"target_shares[{lang!r}]: shares must lie in [0, 1] and sum to at most 1 "
                                 f"(got {shares})")
        return self


def plan(p: RebalanceParams, parents, store) -> Plan:
    splits, schema = input_shards(parents, store)
    missing = {p.lang_column, p.topic_column} - set(schema.names)
    if missing:
        raise ValueError(f"rebalance: {parents[0].ref} has no column(s) {sorted(missing)}; run classify first")
    for s in splits:
        s["schema"] = schema
    return Plan(splits=splits, schema=schema)


def run(ctx):
    p = ctx.params
    counted = StageStats()
    for r in ctx.map(count_groups, ctx.plan.splits, "count topics"):
        counted.merge(r.stats)
    before = dict(counted.histograms["before"])
    goal = targets(before, p.cap_factor, p.target_shares, p.min_docs)
    cuts = {g: threshold(dict(counted.histograms[f"hash/{g}"]), goal[g]) for g in before}
    process = ShardMap(partial(downsample_batch, thresholds=cuts))
    results = ctx.final(process, ctx.plan.splits, desc="down-sample")
    after = StageStats()
    for r in results:
        after.merge(r.stats)
    kept = after.histograms["after"]
    totals_before, totals_after = Counter(), Counter()
    for g, n in before.items():
        totals_before[split_group(g)[0]] += n
        totals_after[split_group(g)[0]] += kept.get(g, 0)
    rows = []
    for g in sorted(before, key=lambda g: (split_group(g)[0], -before[g])):
        lang, topic = split_group(g)
        rows.append({"lang": lang, "topic": topic, "before": before[g], "target": goal[g], "after": kept.get(g, 0),
                     "share_before": round(before[g] / max(totals_before[lang], 1), 4),
                     "share_after": round(kept.get(g, 0) / max(totals_after[lang], 1), 4)})
    if results:
        results[0].stats.table("distribution", rows)
        if rows:
            png = plot_distribution(rows, get_settings().reports / f"rebalance-{ctx.version}.png",
                                    "Topic distribution by language, before and after rebalancing")
            results[0].stats.table("plots", [{"plot": "topic distribution by language", "path": str(png)}])
    return results


REBALANCE = Stage(
    name="rebalance", tags=("data", "topics"), pipeline="data", params=RebalanceParams, plan=plan, process=None, schema=None, run=run,
    code=("zhinao.tasks.topics.rebalance", "zhinao.tasks.runtime.mapper"), inputs=("classify",),
    description="Down-samples over-represented topics per language (cap at k x median, or target shares); "
                "before/after table and chart.")
