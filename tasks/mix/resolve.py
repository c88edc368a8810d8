"""From a spec and the tokens each source has to how many tokens each contributes.

Without a total, the mixture is the largest one in which every source keeps its share without
repeating its documents more than max_epochs times. With a total, a source that cannot reach its
share within max_epochs contributes what it can (the report shows the shortfall). Sources with no
documents are either an error or left out, with the others' shares renormalised."""
from __future__ import annotations

import logging
from dataclasses import dataclass

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
            missing: str = "renormalize") -> dict[str, Allocation]:
    empty = [s.name for s in spec.sources if available.get(s.name, 0) <= 0]
    if empty and missing == "error":
        raise ValueError(f"mixture {spec.name!r}: source(s) {empty} have no documents")
    present = [s for s in spec.sources if s.name not in empty]
    if not present:
        raise ValueError(f"mixture {spec.name!r}: no source has any documents")
    if empty:
        log.warning("mixture %s: source(s) %s have no documents; the other shares are renormalised", spec.name, empty)
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
