"""`zhinao ui`: the lineage web app. Every HTML page has a JSON twin under /api with the same data."""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from zhinao.tasks.provenance.trace import trace
from zhinao.tasks.settings import get_settings
from zhinao.tasks.store import Store, VersionNotFound
from zhinao.tasks.home import open_store

from . import pages, views

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def create_app(store: Store | None = None) -> FastAPI:
    store = store or open_store()
    app = FastAPI(title="zhinao lineage", docs_url="/api/docs", openapi_url="/api/openapi.json")

    def missing(e: Exception, api: bool) -> Response:
        if api:
            return JSONResponse({"error": str(e)}, status_code=404)
        return HTMLResponse(pages.error_page("Not found", str(e)), status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def graph_page(focus: str | None = None, all: bool = False):
        try:
            return pages.graph_page(views.graph(store, focus, all))
        except VersionNotFound as e:
            return missing(e, api=False)

    @app.get("/api/graph")
    def graph_api(focus: str | None = None, all: bool = False):
        try:
            return views.graph(store, focus, all)
        except VersionNotFound as e:
            return missing(e, api=True)

    @app.get("/api/versions")
    def versions_api():
        return store.catalog.all()

    @app.get("/open")
    def open_ref(ref: str = Query(...)):
        try:
            return RedirectResponse(f"/version/{quote(store.resolve(ref.strip()).ref)}", status_code=303)
        except (VersionNotFound, ValueError) as e:
            return missing(e, api=False)

    @app.get("/version/{ref}", response_class=HTMLResponse)
    def version_page(ref: str):
        try:
            v = views.version(store, ref)
        except (VersionNotFound, ValueError) as e:
            return missing(e, api=False)
        return pages.version_page(v)

    @app.get("/api/version/{ref}")
    def version_api(ref: str):
        try:
            return views.version(store, ref)
        except (VersionNotFound, ValueError) as e:
            return missing(e, api=True)

    @app.get("/diff", response_class=HTMLResponse)
    def diff_page(a: str, b: str):
        try:
            return pages.diff_page(views.diff(store, a, b))
        except (VersionNotFound, ValueError) as e:
            status = 400 if isinstance(e, views.DiffError) else 404
            return HTMLResponse(pages.error_page("No diff", str(e)), status_code=status)

    @app.get("/api/diff")
    def diff_api(a: str, b: str):
        try:
            return views.diff(store, a, b)
        except (VersionNotFound, ValueError) as e:
            return JSONResponse({"error": str(e)}, status_code=400 if isinstance(e, views.DiffError) else 404)

    @app.get("/trace", response_class=HTMLResponse)
    def trace_page(doc: str = Query(..., min_length=1)):
        return pages.trace_page(trace(store, doc.strip()))

    @app.get("/api/trace")
    def trace_api(doc: str = Query(..., min_length=1)):
        return trace(store, doc.strip())

    @app.get("/file/{ref}/{path:path}")
    def version_file(ref: str, path: str):
        """A file a version lists (a plot inside a model folder); read through the store, so it
        works for a remote store too."""
        try:
            m = store.resolve(ref)
        except (VersionNotFound, ValueError) as e:
            return missing(e, api=True)
        if path not in {s.path for s in m.shards}:
            return JSONResponse({"error": f"{m.ref} has no file {path!r}"}, status_code=404)
        with store.root.fs.open_input_file(store.root.join(m.folder, path)) as fh:
            data = fh.read()
        kind = IMAGE_TYPES.get(Path(path).suffix.lower()) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        return Response(data, media_type=kind)

    @app.get("/report/{name}")
    def report(name: str):
        """A plot a stage wrote under the reports folder (by file name only)."""
        folder = get_settings().reports.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or path.suffix.lower() not in IMAGE_TYPES or not path.is_file():
            return JSONResponse({"error": f"no plot {name!r} in the reports folder"}, status_code=404)
        return Response(path.read_bytes(), media_type=IMAGE_TYPES[path.suffix.lower()])

    return app
