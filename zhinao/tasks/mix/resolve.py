"""From a spec and the tokens each source has to how many tokens each contributes.

Without a total, the mixture is the largest one in which every source keeps its share without
repeating its documents more than max_epochs times. With a total, a source that cannot reach its
share within max_epochs contributes what it can (the report shows the shortfall). Sources with no
documents are either an error or left out, with the others' shares renormalised; when none has any,
the mixture is empty (a warning) or an error, saying what emptied each source."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..stats import StageStats
from ..store import Manifest
from .spec import MixSpec

log = logging.getLogger("zhinao.mix")


@dataclass
class Allocation:
    source: str
    requested_share: float       # as the spec says
    share: float                 # after leaving out empty sources
    available: int               # tokens the source has (after its filter)
    target: float                # tokens it should contribute
    max_epochs: float

    @property
    def epochs(self) -> float:
        return self.target / self.available if self.available else 0.0


def resolve(spec: MixSpec, available: dict[str, int], total_tokens: int | None = None,
            missing: str = "renormalize", empty: str = "warn", why: dict[str, str] | None = None
            ) -> dict[str, Allocation]:
    """`why`: for a source without tokens, what emptied it (why_empty), for the messages."""
    gone = [s.name for s in spec.sources if available.get(s.name, 0) <= 0]
    reasons = "; ".join((why or {}).get(n, f"source {n!r} has no documents") for n in gone)
    if gone and missing == "error":
        raise ValueError(f"mixture {spec.name!r}: source(s) {gone} have no documents: {reasons}")
    present = [s for s in spec.sources if s.name not in gone]
    if not present:
        message = f"mixture {spec.name!r}: no source has any documents: {reasons}"
        if empty == "error":
            raise ValueError(message)
        # a small first crawl can miss every source's filter: an empty mixture, said, not a failed run
        log.warning("%s (empty=warn: committing an empty mixture)", message)
        return {s.name: Allocation(s.name, s.share, 0.0, 0, 0.0, s.max_epochs) for s in spec.sources}
    if gone:
        log.warning("mixture %s: %s; the other shares are renormalised", spec.name, reasons)
    norm = sum(s.share for s in present)
    shares = {s.name: s.share / norm for s in present}
    if total_tokens is None:
        total = min(available[s.name] * s.max_epochs / shares[s.name] for s in present)
    else:
        total = float(total_tokens)
    out = {}
    for s in spec.sources:
        share = shares.get(s.name, 0.0)
        have = available.get(s.name, 0)
        out[s.name] = Allocation(s.name, s.share, share, have, min(share * total, have * s.max_epochs), s.max_epochs)
    return out


def why_empty(spec: MixSpec, measured: StageStats, origins: dict[str, str]) -> dict[str, str]:
    """For each source without tokens (phases.measure's counts), the step that emptied it (its
    dataset, its where, its text template) and how to widen it."""
    c, out = measured.counters, {}
    for s in spec.sources:
        if c.get(f"tokens.{s.name}", 0) > 0:
            continue
        has, match = c.get(f"docs_in.{s.name}", 0), c.get(f"docs_where.{s.name}", 0)
        head = f"source {s.name!r}: {origins.get(s.name, s.dataset)}"
        if not has:
            out[s.name] = f"{head} has no documents; run its stage on more data"
        elif not match:
            seen = ", ".join(f"{col}={v} ({n})" for col in s.where
                             for v, n in measured.histograms[f"where/{s.name}/{col}"].most_common(5))
            out[s.name] = (f"{head} has {has} documents, 0 match its where {s.where} (they have {seen}); "
                           "widen it with -p spec=... or run on more data")
        else:
            out[s.name] = f"{head}: {match} documents match, but its text template {s.text!r} is empty for all"
    return out


def empty_mixture(m: Manifest) -> str | None:
    """Why a committed mixture version has no documents (its empty_sources table); None if it has some."""
    if m.rows:
        return None
    why = [r["why"] for r in m.stats.get("tables", {}).get("empty_sources", [])]
    return f"{m.ref} is an empty mixture" + (f": {'; '.join(why)}" if why else "")
