"""Where the lineage page lives, for links from Prefect artifacts: ZHINAO_UI_URL, else the default
`zhinao ui` address. Kept apart from the app so stages import only this."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from zhinao.tasks.store import Manifest

UI_PORT = 8765
IMAGE = (".png", ".svg", ".jpg", ".jpeg")


def ui_url() -> str:
    return os.environ.get("ZHINAO_UI_URL", f"http://127.0.0.1:{UI_PORT}").rstrip("/")


def version_url(ref: str) -> str:
    return f"{ui_url()}/version/{quote(ref)}"


def absolute(path: str) -> str:
    """A page-relative URL (/file/..., /report/...) as a link from elsewhere."""
    return ui_url() + path


def plots(m: Manifest) -> list[dict[str, str]]:
    """The version's plots with the URL each is served at: the image files of a file version (they
    work from any store), else the copies the stage listed under the reports folder."""
    files = [s.path for s in m.shards if s.path.lower().endswith(IMAGE)]
    out, used = [], set()
    for row in m.stats.get("tables", {}).get("plots", []):
        name = Path(str(row.get("path", ""))).name
        match = next((f for f in files if name == Path(f).name or name.endswith("-" + Path(f).name)), None)
        if match is not None:
            used.add(match)
            out.append({"what": row.get("plot", match), "url": f"/file/{m.ref}/{match}"})
        elif name:
            out.append({"what": row.get("plot", name), "url": f"/report/{name}"})
    out += [{"what": f, "url": f"/file/{m.ref}/{f}"} for f in files if f not in used]
    return out
