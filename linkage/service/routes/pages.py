"""What needs no token: the dashboard's static page (its script asks for a staff token and
fetches the data itself) and the health check."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from linkage import __version__

router = APIRouter()

_DASHBOARD = Path(__file__).parent.parent / "dashboard"
_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
#: The dashboard's page runs only its own script and shows only its own charts (drawn from
#: blobs fetched with the token), and may not be framed.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
}


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard", include_in_schema=False)
def dashboard() -> HTMLResponse:
    """The staff dashboard's page: no data in it; its script asks for a staff token."""
    page = (_DASHBOARD / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/dashboard/{name}", include_in_schema=False)
def dashboard_asset(name: str) -> Response:
    if name not in _ASSETS:
        raise HTTPException(404, f"no dashboard file '{name}'")
    return Response((_DASHBOARD / name).read_bytes(), media_type=_ASSETS[name])


@router.get("/v1/health", tags=["service"])
def health() -> dict[str, str]:
    """Whether the service is up (no token needed)."""
    return {"status": "ok", "version": __version__}
