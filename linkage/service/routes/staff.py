"""The coordinator's staff's routes: set aside a wrong upload, start and follow the month's
ingest, the dashboard's data and charts, and the review queue. Every one refuses any token
but a staff token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import select

from linkage.bynamelist.review import decide, pending
from linkage.bynamelist.store.schema import jobs
from linkage.errors import LinkageError
from linkage.service.charts import CHARTS
from linkage.service.context import Caller, Current, require_staff
from linkage.service.jobs import JobError
from linkage.service.models import (
    ERRORS,
    Discard,
    JobOut,
    Month,
    PairOut,
    ReceivedOut,
    RowId,
    Ruling,
    RulingOut,
    refusal,
)
from linkage.service.overview import overview
from linkage.service.spool import Refused, discard, listing

router = APIRouter(tags=["staff"])


@router.post(
    "/v1/uploads/{upload_id}/discard",
    response_model=ReceivedOut,
    responses={
        **ERRORS,
        404: refusal("no such upload"),
        409: refusal("taken by an ingest, or discarded already"),
    },
)
def discard_upload(upload_id: RowId, body: Discard, who: Caller, service: Current) -> ReceivedOut:
    """Set aside a waiting upload (a wrong file an agency sent), so the month's ingest
    goes on without it; the agency may send a corrected file. Audited."""
    require_staff(who)
    try:
        discard(service.store, upload_id, " ".join(body.reason.split()))
    except Refused as err:
        raise HTTPException(err.status, err.reason) from None
    return ReceivedOut.of(next(r for r in listing(service.store) if r["id"] == upload_id))


@router.post(
    "/v1/months/{month}/ingest",
    status_code=202,
    response_model=JobOut,
    responses={**ERRORS, 409: refusal("nothing to do, or already running")},
)
def start_ingest(month: Month, who: Caller, service: Current) -> JobOut:
    """Ingest the month's waiting uploads (each agency's latest) in the background."""
    require_staff(who)
    try:
        job_id = service.worker.submit(month, who.token_id)
    except JobError as err:
        raise HTTPException(err.status, err.reason) from None
    return job(job_id, who, service)


@router.get("/v1/jobs", response_model=list[JobOut], responses=ERRORS)
def all_jobs(who: Caller, service: Current) -> list[JobOut]:
    """Every job, newest first."""
    require_staff(who)
    with service.store.engine.connect() as conn:
        rows = conn.execute(select(jobs).order_by(jobs.c.id.desc())).mappings().all()
    return [JobOut.of(service.worker.describe(r)) for r in rows]


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobOut,
    responses={**ERRORS, 404: refusal("no such job")},
)
def job(job_id: RowId, who: Caller, service: Current) -> JobOut:
    """One job, with its progress while it runs."""
    require_staff(who)
    with service.store.engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise HTTPException(404, f"no job {job_id}")
    return JobOut.of(service.worker.describe(row))


@router.get("/v1/dashboard", responses=ERRORS)
def dashboard_data(who: Caller, service: Current) -> dict[str, Any]:
    """What the dashboard shows: every month's published (suppressed) figures, the
    agencies' coverage and upload recency, and how many pairs wait for review."""
    require_staff(who)
    return overview(service.store)


@router.get(
    "/v1/dashboard/charts/{name}.svg",
    response_class=Response,
    responses={
        **ERRORS,
        200: {"content": {"image/svg+xml": {}}, "description": "the chart"},
        404: refusal("no such chart"),
    },
)
def chart(name: str, who: Caller, service: Current) -> Response:
    """One of the dashboard's charts (active, inflow, outflow, reliability, coverage),
    drawn from the same data as ``/v1/dashboard``."""
    require_staff(who)
    if name not in CHARTS:
        raise HTTPException(404, f"no chart '{name}': one of {', '.join(CHARTS)}")
    return Response(CHARTS[name](overview(service.store)), media_type="image/svg+xml")


@router.get("/v1/review", response_model=list[PairOut], responses=ERRORS)
def review_queue(who: Caller, service: Current) -> list[PairOut]:
    """The pairs the last ingest left for a person to decide, the rulings expected to
    change the count most first: agencies, scores and why only (the CLI shows record ids
    to a clerk who must look the records up)."""
    require_staff(who)
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
        for p in pending(service.store)
    ]


@router.post(
    "/v1/review/{pair_id}",
    response_model=RulingOut,
    responses={**ERRORS, 404: refusal("no such pair")},
)
def rule(pair_id: RowId, ruling: Ruling, who: Caller, service: Current) -> RulingOut:
    """Rule on a pair: "same" merges two people, "never" keeps them apart for good."""
    require_staff(who)
    found = [p for p in pending(service.store) if p.id == pair_id]
    if not found:
        raise HTTPException(404, f"no pair {pair_id} in the review queue")
    try:
        done = decide(service.store, found[0].a, found[0].b, ruling.ruling, ruling.note)
    except LinkageError as err:
        raise HTTPException(409, err.one_line()) from None
    return RulingOut(merged=done.merged, split_into=len(done.split_into or []))
