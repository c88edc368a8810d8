"""Report plots: matplotlib without a display, and a figure saved where the caller wants it."""
from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (workers and CI have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, dpi: int = 110) -> Path:
    """Lay out, write (creating the folder) and close the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def to_reports(png: Path, name: str, what: str) -> dict[str, str]:
    """A copy of a plot written inside a version's folder, under the reports folder as `name`; the
    row that lists it in the stage's "plots" table."""
    import shutil

    from .settings import get_settings

    copy = get_settings().reports / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, copy)
    return {"plot": what, "path": str(copy)}
