"""The coordinator's HTTP API (FastAPI; its OpenAPI description is served at /openapi.json).

Agencies upload their monthly ``.clk`` file, follow what became of it, and fetch their own
records' person ids and the published (suppressed) reports. Staff start the month's ingest,
follow jobs, and work the review queue. Every request carries a bearer token (see
:mod:`linkage.service.auth`) and is audited; answers never hold a plaintext value, and
agencies never see another agency's records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import event, select
from starlette.routing import Match

from linkage import __version__
from linkage.bynamelist import StoreError, build_report, latest_month
from linkage.bynamelist.export import agency_csv
from linkage.bynamelist.monthly import YYYY_MM, check_month
from linkage.bynamelist.report import render_json
from linkage.bynamelist.review import decide, pending
from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import jobs
from linkage.errors import LinkageError
from linkage.service.audit import AuditLog
from linkage.service.auth import Principal
from linkage.service.charts import CHARTS
from linkage.service.gate import Gate
from linkage.service.jobs import JobError, Worker
from linkage.service.overview import overview
from linkage.service.spool import Refused, discard, listing, prepare_spool, receive

log = logging.getLogger("linkage.service")

#: Uploads above this many bytes are refused (a million records with field filters and
#: blocking keys take about 300 MB).
DEFAULT_UPLOAD_LIMIT = 1 << 30

_DASHBOARD = Path(__file__).parent / "dashboard"
_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
#: Every answer: never cached (results and tokens pass through), never sniffed, no referrer.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: The dashboard's page runs only its own script and shows only its own charts (drawn from
#: blobs fetched with the token), and may not be framed.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
}


#: A row id: a positive 32-bit integer, as the tables' integer keys are on PostgreSQL (a
#: larger number is no row, and would overflow the query).
RowId = Annotated[int, PathParam(ge=1, le=(1 << 31) - 1)]
Month = Annotated[str, PathParam(pattern=YYYY_MM, description="YYYY-MM", examples=["2026-10"])]
MonthOrLatest = Annotated[
    str,
    PathParam(
        pattern=f"^latest$|{YYYY_MM}",
        description="YYYY-MM, or latest for the list's latest month",
        examples=["latest", "2026-10"],
    ),
]


@dataclass(frozen=True)
class Settings:
    """What ``linkage serve`` configures."""

    spool: Path
    upload_limit: int = DEFAULT_UPLOAD_LIMIT


class UploadOut(BaseModel):
    id: int
    agency: str
    month: str
    records: int
    size: int
    fresh: bool = Field(description="False when this very file had been received before")


class ReceivedOut(BaseModel):
    id: int
    agency: str
    month: str
    size: int
    received_at: str
    ingested: bool = Field(description="taken by an ingest job (see state)")
    state: Literal["waiting", "taken", "discarded"] = Field(
        description="waiting for the month's ingest, taken by an ingest job, or discarded"
    )


class Discard(BaseModel):
    reason: str = Field("", max_length=500, description="why; never a name or any value")


class JobOut(BaseModel):
    id: int
    kind: str
    month: str
    state: Literal["queued", "running", "done", "failed"]
    progress: str
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int


class PairOut(BaseModel):
    id: int
    agency_a: str
    agency_b: str
    score: float
    reason: str
    expected_change: float = Field(
        description="how much a ruling is expected to change the count (people fewer or more)"
    )
    why: str = Field(description="why the pair waits, in words for a clerk")


class Ruling(BaseModel):
    ruling: Literal["same", "never"]
    note: str = Field("", max_length=500, description="why; never a name or any value")


class RulingOut(BaseModel):
    merged: bool
    split_into: int = Field(description="how many new people a split made")


class Problem(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a body that could not be read at all"},
    401: {"model": Problem, "description": "no valid token"},
    403: {"model": Problem, "description": "the token may not do this"},
    422: {"model": Problem, "description": "a malformed request, said in one line"},
}


def _caller(request: Request) -> Principal:
    """The caller a request's bearer token stands for, as the gate found it before the body
    was read (see :mod:`linkage.service.gate`)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(
            401,
            "no valid token: send 'Authorization: Bearer TOKEN'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


Caller = Annotated[Principal, Depends(_caller)]


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
    app.state.store = store

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
                _route_of(app, request.scope),
                response.status_code,
                request.client.host if request.client else None,
            )
        return response

    def agency_of(who: Principal) -> str:
        if who.agency is None:
            raise HTTPException(403, "only an agency's token can do this")
        return who.agency

    def staff(who: Principal) -> None:
        if not who.is_staff:
            raise HTTPException(403, "only the coordinator's staff can do this")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        """The staff dashboard's page: no data in it; its script asks for a staff token."""
        page = (_DASHBOARD / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    @app.get("/dashboard/{name}", include_in_schema=False)
    def dashboard_asset(name: str) -> Response:
        if name not in _ASSETS:
            raise HTTPException(404, f"no dashboard file '{name}'")
        return Response((_DASHBOARD / name).read_bytes(), media_type=_ASSETS[name])

    @app.get("/v1/health", tags=["service"])
    def health() -> dict[str, str]:
        """Whether the service is up (no token needed)."""
        return {"status": "ok", "version": __version__}

    @app.post(
        "/v1/uploads/{month}",
        tags=["agencies"],
        status_code=201,
        response_model=UploadOut,
        responses={
            **_ERRORS,
            200: {"model": UploadOut, "description": "this file had been received before"},
            409: {"model": Problem, "description": "the list has moved past this month"},
            413: {"model": Problem, "description": "larger than the service's limit"},
            422: {"model": Problem, "description": "not a valid upload for this store"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def upload(month: Month, request: Request, who: Caller) -> JSONResponse:
        """Send the agency's ``.clk`` file for a month, as the request body. It is verified
        (checksum, the store's config and secret, the token's agency) before it is kept."""
        agency = agency_of(who)
        length = request.headers.get("content-length", "")
        try:
            got = await receive(
                store,
                settings.spool,
                agency,
                month,
                request.stream(),
                settings.upload_limit,
                int(length) if length.isdigit() else None,
            )
        except Refused as err:
            raise HTTPException(err.status, err.reason) from None
        out = UploadOut(
            id=got.id,
            agency=got.agency,
            month=got.month,
            records=got.records,
            size=got.size,
            fresh=got.fresh,
        )
        return JSONResponse(out.model_dump(), status_code=201 if got.fresh else 200)

    @app.get("/v1/uploads", tags=["agencies"], response_model=list[ReceivedOut], responses=_ERRORS)
    def uploads(who: Caller) -> list[ReceivedOut]:
        """The uploads received: an agency's own, or everyone's for staff."""
        return [_received(r) for r in listing(store, None if who.is_staff else agency_of(who))]

    @app.post(
        "/v1/uploads/{upload_id}/discard",
        tags=["staff"],
        response_model=ReceivedOut,
        responses={
            **_ERRORS,
            404: {"model": Problem, "description": "no such upload"},
            409: {"model": Problem, "description": "taken by an ingest, or discarded already"},
        },
    )
    def discard_upload(upload_id: RowId, body: Discard, who: Caller) -> ReceivedOut:
        """Set aside a waiting upload (a wrong file an agency sent), so the month's ingest
        goes on without it; the agency may send a corrected file. Audited."""
        staff(who)
        try:
            discard(store, upload_id, " ".join(body.reason.split()))
        except Refused as err:
            raise HTTPException(err.status, err.reason) from None
        return _received(next(r for r in listing(store) if r["id"] == upload_id))

    @app.get(
        "/v1/results",
        tags=["agencies"],
        response_class=PlainTextResponse,
        responses={
            **_ERRORS,
            200: {
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": "record_id,person_id (and other_agencies where the store "
                "shares it) for each of the agency's records",
            },
            404: {"model": Problem, "description": "no records of the agency yet"},
        },
    )
    def results(who: Caller) -> PlainTextResponse:
        """The agency's own records and the person id the list gives each, as CSV."""
        agency = agency_of(who)
        try:
            text, _ = agency_csv(store, agency)
        except StoreError as err:
            raise HTTPException(404, err.one_line()) from None
        return PlainTextResponse(text, media_type="text/csv")

    @app.get(
        "/v1/reports/{month}",
        tags=["reports"],
        responses={**_ERRORS, 404: {"model": Problem, "description": "no such month"}},
    )
    def report(month: MonthOrLatest, who: Caller) -> Any:
        """A month's published figures (small cells suppressed), as ``bnl report --format
        json`` writes them; ``latest`` for the list's latest month."""
        del who  # any valid token may read the published figures
        try:
            chosen = latest_month(store) if month == "latest" else month
            return json.loads(render_json(build_report(store, chosen)))
        except StoreError as err:
            raise HTTPException(404, err.one_line()) from None

    @app.post(
        "/v1/months/{month}/ingest",
        tags=["staff"],
        status_code=202,
        response_model=JobOut,
        responses={
            **_ERRORS,
            409: {"model": Problem, "description": "nothing to do, or already running"},
        },
    )
    def start_ingest(month: Month, who: Caller) -> JobOut:
        """Ingest the month's waiting uploads (each agency's latest) in the background."""
        staff(who)
        try:
            job_id = worker.submit(month, who.token_id)
        except JobError as err:
            raise HTTPException(err.status, err.reason) from None
        return job(job_id, who)

    @app.get("/v1/jobs", tags=["staff"], response_model=list[JobOut], responses=_ERRORS)
    def all_jobs(who: Caller) -> list[JobOut]:
        """Every job, newest first."""
        staff(who)
        with store.engine.connect() as conn:
            rows = conn.execute(select(jobs).order_by(jobs.c.id.desc())).mappings().all()
        return [_job(worker.describe(r)) for r in rows]

    @app.get(
        "/v1/jobs/{job_id}",
        tags=["staff"],
        response_model=JobOut,
        responses={**_ERRORS, 404: {"model": Problem, "description": "no such job"}},
    )
    def job(job_id: RowId, who: Caller) -> JobOut:
        """One job, with its progress while it runs."""
        staff(who)
        with store.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise HTTPException(404, f"no job {job_id}")
        return _job(worker.describe(row))

    @app.get("/v1/dashboard", tags=["staff"], responses=_ERRORS)
    def dashboard_data(who: Caller) -> dict[str, Any]:
        """What the dashboard shows: every month's published (suppressed) figures, the
        agencies' coverage and upload recency, and how many pairs wait for review."""
        staff(who)
        return overview(store)

    @app.get(
        "/v1/dashboard/charts/{name}.svg",
        tags=["staff"],
        response_class=Response,
        responses={
            **_ERRORS,
            200: {"content": {"image/svg+xml": {}}, "description": "the chart"},
            404: {"model": Problem, "description": "no such chart"},
        },
    )
    def chart(name: str, who: Caller) -> Response:
        """One of the dashboard's charts (active, inflow, outflow, reliability, coverage),
        drawn from the same data as ``/v1/dashboard``."""
        staff(who)
        if name not in CHARTS:
            raise HTTPException(404, f"no chart '{name}': one of {', '.join(CHARTS)}")
        return Response(CHARTS[name](overview(store)), media_type="image/svg+xml")

    @app.get("/v1/review", tags=["staff"], response_model=list[PairOut], responses=_ERRORS)
    def review_queue(who: Caller) -> list[PairOut]:
        """The pairs the last ingest left for a person to decide, the rulings expected to
        change the count most first: agencies, scores and why only (the CLI shows record ids
        to a clerk who must look the records up)."""
        staff(who)
        return [
            PairOut(
                id=p.id,
                agency_a=p.a[0],
                agency_b=p.b[0],
                score=p.score,
                reason=p.reason,
                expected_change=p.expected_change,
                why=p.why,
            )
            for p in pending(store)
        ]

    @app.post(
        "/v1/review/{pair_id}",
        tags=["staff"],
        response_model=RulingOut,
        responses={**_ERRORS, 404: {"model": Problem, "description": "no such pair"}},
    )
    def rule(pair_id: RowId, ruling: Ruling, who: Caller) -> RulingOut:
        """Rule on a pair: "same" merges two people, "never" keeps them apart for good."""
        staff(who)
        found = [p for p in pending(store) if p.id == pair_id]
        if not found:
            raise HTTPException(404, f"no pair {pair_id} in the review queue")
        try:
            done = decide(store, found[0].a, found[0].b, ruling.ruling, ruling.note)
        except LinkageError as err:
            raise HTTPException(409, err.one_line()) from None
        return RulingOut(merged=done.merged, split_into=len(done.split_into or []))

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


def _received(row: dict[str, Any]) -> ReceivedOut:
    return ReceivedOut(
        id=row["id"],
        agency=row["agency"],
        month=row["month"],
        size=row["size"],
        received_at=_when(row["received_at"]),
        ingested=row["state"] == "taken",
        state=row["state"],
    )


def _route_of(app: FastAPI, scope: Any) -> str:
    """The route a request was for, as its template (never the values in its path), also
    for a request the gate refused before routing."""
    route = scope.get("route")
    if route is None:
        route = next((r for r in app.routes if r.matches(scope)[0] == Match.FULL), None)
    return str(getattr(route, "path", "(no such route)"))


def _when(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def _job(row: dict[str, Any]) -> JobOut:
    return JobOut(
        **{
            **row,
            "created_at": _when(row["created_at"]),
            "started_at": _when(row["started_at"]) or None,
            "finished_at": _when(row["finished_at"]) or None,
        }
    )


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
