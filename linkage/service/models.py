"""What the API answers and accepts: its request and response bodies, its path parameters,
and the refusals every route may give, so the routes and the OpenAPI description agree.

None of them holds an identifier's value: agencies, months, counts, scores and reasons only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from linkage.bynamelist.monthly import YYYY_MM

#: A row id: a positive 32-bit integer, as the tables' integer keys are on PostgreSQL (a
#: larger number is no row, and would overflow the query).
RowId = Annotated[int, PathParam(ge=1, le=(1 << 31) - 1)]
Month = Annotated[str, PathParam(pattern=YYYY_MM, description="YYYY-MM", examples=["2026-10"])]
#: An agency's name as it uploads (``linkage encode --agency``: at most 100 characters).
AgencyName = Annotated[str, PathParam(min_length=1, max_length=100, examples=["outreach-east"])]
MonthOrLatest = Annotated[
    str,
    PathParam(
        pattern=f"^latest$|{YYYY_MM}",
        description="YYYY-MM, or latest for the list's latest month",
        examples=["latest", "2026-10"],
    ),
]


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

    @classmethod
    def of(cls, row: dict[str, Any]) -> ReceivedOut:
        """An upload as the spool lists it."""
        return cls(
            id=row["id"],
            agency=row["agency"],
            month=row["month"],
            size=row["size"],
            received_at=_when(row["received_at"]),
            ingested=row["state"] == "taken",
            state=row["state"],
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

    @classmethod
    def of(cls, row: dict[str, Any]) -> JobOut:
        """A job as the worker describes it (times as ISO text)."""
        return cls(
            **{
                **row,
                "created_at": _when(row["created_at"]),
                "started_at": _when(row["started_at"]) or None,
                "finished_at": _when(row["finished_at"]) or None,
            }
        )


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


#: The refusals any route with a token may give, for the OpenAPI description.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a body that could not be read at all"},
    401: {"model": Problem, "description": "no valid token"},
    403: {"model": Problem, "description": "the token may not do this"},
    422: {"model": Problem, "description": "a malformed request, said in one line"},
}


def refusal(description: str) -> dict[str, Any]:
    """One more refusal a route documents beside :data:`ERRORS`."""
    return {"model": Problem, "description": description}


def csv_answer(description: str) -> dict[str, Any]:
    """A route's answer as CSV text (its refusals stay JSON, as :data:`ERRORS` has them)."""
    return {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": description}


def _when(value: Any) -> str:
    return value.isoformat() if value is not None else ""
