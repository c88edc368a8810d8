"""Writes the files that follow from the declarations: prefect.yaml, docs/stages.md and the README's
stage graph.
`python -m zhinao.app.generate` (--check: exit 1 naming each stale file, write nothing)."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def generated() -> dict[Path, str]:
    from ..flows import deployments
    from . import graph, reference

    readme = REPO / "README.md"
    return {REPO / "prefect.yaml": deployments.render(), REPO / "docs" / "stages.md": reference.render(),
            readme: graph.into(readme.read_text(encoding="utf-8"))}


def stale() -> list[Path]:
    return [p for p, text in generated().items() if not p.exists() or p.read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        old = stale()
        for p in old:
            print(f"stale: {p.relative_to(REPO)} (regenerate: python -m zhinao.app.generate)")
        return 1 if old else 0
    for p, text in generated().items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        print(f"wrote {p.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
