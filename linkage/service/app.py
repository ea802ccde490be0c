"""The coordinator's HTTP API (FastAPI; its OpenAPI description is served at /openapi.json).

Agencies upload their monthly ``.clk`` file, follow what became of it, and fetch their own
records' person ids and the published (suppressed) reports. Staff start the month's ingest,
follow jobs, and work the review queue. Every request carries a bearer token (see
:mod:`linkage.service.auth`) and is audited; answers never hold a plaintext value, and
agencies never see another agency's records.

This module assembles the service: the gate, the audit, one-line errors and the worker's
life, around the routes of :mod:`linkage.service.routes` (one module per audience).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import event
from starlette.routing import BaseRoute, Match

from linkage import __version__
from linkage.bynamelist import StoreError
from linkage.bynamelist.monthly import check_month
from linkage.bynamelist.store import Store
from linkage.service.audit import AuditLog
from linkage.service.context import Service, Settings
from linkage.service.gate import Gate
from linkage.service.jobs import Worker
from linkage.service.routes import ROUTERS
from linkage.service.spool import prepare_spool

log = logging.getLogger("linkage.service")

#: Every answer: never cached (results and tokens pass through), never sniffed, no referrer.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(store: Store, settings: Settings) -> FastAPI:
    """The service over an open store."""
    prepare_spool(settings.spool)
    _wait_for_busy_sqlite(store)
    worker = Worker(store, settings.spool)
    audit_log: AuditLog | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal audit_log
        audit_log = AuditLog(store)
        worker.start()
        yield
        worker.stop()
        audit_log.close()

    app = FastAPI(
        title="linkage coordinator",
        version=__version__,
        description="Privacy-preserving record linkage: agencies' uploads, the by-name list, "
        "its reports and review queue. Bearer tokens only; no plaintext identifier ever.",
        lifespan=lifespan,
        docs_url=None,  # Swagger and ReDoc pages load CDN scripts: not on the dashboard's origin
        redoc_url=None,
    )
    app.state.service = Service(store, settings, worker)
    for router in ROUTERS:
        app.include_router(router)
    # The routes a refused request is matched against for its audit line: the app's own and
    # the routers' (FastAPI may keep an included router as one opaque entry in app.routes).
    routes = [r for r in app.routes if hasattr(r, "path")]
    routes += [r for router in ROUTERS for r in router.routes]

    @app.exception_handler(RequestValidationError)
    async def _one_line(_: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's validation errors, as one line like every other refusal."""
        problems = [_problem(e) for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems).replace("\n", " ")}, status_code=422)

    app.add_middleware(Gate, store=store)  # inside the audit: its refusals are audited too

    @app.middleware("http")
    async def _audit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            response = await call_next(request)
        except Exception:  # a bug: answered, logged with its trace, and audited as a 500
            log.exception("%s %s failed", request.method, request.url.path)
            response = JSONResponse(
                {"detail": "internal error; the service's log has the details"}, status_code=500
            )
        response.headers.update(_HEADERS)
        if audit_log is not None:
            audit_log.record(
                getattr(request.state, "token_id", None),
                request.method,
                _route_of(routes, request.scope),
                response.status_code,
                request.client.host if request.client else None,
            )
        return response

    return app


def _problem(error: dict[str, Any]) -> str:
    """One validation error in words; a malformed month as the CLI words it."""
    where = ".".join(str(p) for p in error.get("loc", ()))
    if where == "path.month" and error.get("type") == "string_pattern_mismatch":
        try:
            check_month(str(error.get("input")))
        except StoreError as err:
            return err.one_line()
    return f"{where}: {error.get('msg', 'invalid')}"


def _route_of(routes: list[BaseRoute], scope: Any) -> str:
    """The route a request was for, as its template (never the values in its path), also
    for a request the gate refused before routing."""
    route = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] == Match.FULL), None)
    return str(getattr(route, "path", "(no such route)"))


def _wait_for_busy_sqlite(store: Store) -> None:
    """On SQLite, let readers go on while an ingest writes (WAL) and let a writer wait for
    the ingest's transaction instead of failing at once."""
    if store.engine.dialect.name != "sqlite":
        return

    @event.listens_for(store.engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=120000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    store.engine.dispose()  # connections opened before get the pragmas when reopened
