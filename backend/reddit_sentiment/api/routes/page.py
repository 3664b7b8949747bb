"""The dashboard page: `GET /` and its static assets, all served by the app itself.

The page reads only the public API under /api/v1. Its charts are drawn by the plotly.js bundle
that the `plotly` Python package ships, so nothing is fetched from another host at run time.
Asset URLs in the page carry a version (`?v=`), so the assets can be cached for a long time
while the page itself is always revalidated.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
ASSETS = ("dashboard.js", "dashboard.css", "alerts.js")

LONG_CACHE = "public, max-age=31536000, immutable"
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    # Everything the page uses comes from this origin; Plotly sets inline styles.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def plotly_bundle() -> Path | None:
    """plotly.min.js from the installed `plotly` package, found without importing plotly."""
    spec = importlib.util.find_spec("plotly")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundle = Path(location) / "package_data" / "plotly.min.js"
        if bundle.is_file():
            return bundle
    return None


def _plotly_version() -> str:
    try:
        return importlib.metadata.version("plotly")
    except importlib.metadata.PackageNotFoundError:
        return "missing"


@dataclass(frozen=True)
class _Built:
    html: str
    plotly: Path | None
    plotly_gzip: bytes | None


_built: _Built | None = None
_build_lock = threading.Lock()


def _build() -> _Built:
    """Runs once in a worker thread: the page with versioned asset URLs, a gzipped bundle."""
    global _built
    with _build_lock:
        built = _built
        if built is None:
            built = _read_assets()
            _built = built
        return built


def _read_assets() -> _Built:
    versions = {"plotly.min.js": _plotly_version()}
    for name in ASSETS:
        versions[name] = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for name, version in versions.items():
        html = html.replace(f"/static/{name}", f"/static/{name}?v={version}")
    bundle = plotly_bundle()
    compressed = gzip.compress(bundle.read_bytes(), compresslevel=6) if bundle else None
    return _Built(html=html, plotly=bundle, plotly_gzip=compressed)


async def _get_built() -> _Built:
    built = _built
    if built is None:  # the first request reads and compresses in a worker thread
        built = await anyio.to_thread.run_sync(_build)
    return built


@router.get("/", response_class=HTMLResponse)
async def dashboard_page() -> HTMLResponse:
    built = await _get_built()
    return HTMLResponse(built.html, headers=PAGE_HEADERS)


@router.get("/static/plotly.min.js")
async def plotly_js(request: Request) -> Response:
    built = await _get_built()
    if built.plotly is None:
        raise HTTPException(404, "plotly is not installed: pip install plotly")
    headers = {"Cache-Control": LONG_CACHE, "Vary": "Accept-Encoding"}
    if built.plotly_gzip is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(built.plotly_gzip, media_type="text/javascript", headers=headers)
    return FileResponse(built.plotly, media_type="text/javascript", headers=headers)


@router.get("/static/{name}")
async def static_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC_DIR / name, headers={"Cache-Control": LONG_CACHE})
