"""An agency's routes: send the month's ``.clk`` file, see what became of its uploads, fetch
its own records' person ids, and its joint participants with a partner. An agency never sees
another agency's record ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from linkage.bynamelist import StoreError
from linkage.bynamelist.agreements import UnknownAgency
from linkage.bynamelist.export import agency_csv
from linkage.bynamelist.joint import joint_csv, joint_list
from linkage.bynamelist.monthly import YYYY_MM
from linkage.bynamelist.notices import notices_csv, notices_for
from linkage.service.context import Caller, Current, agency_of
from linkage.service.models import (
    ERRORS,
    AgencyName,
    Month,
    ReceivedOut,
    UploadOut,
    csv_answer,
    refusal,
)
from linkage.service.spool import Refused, listing, receive

router = APIRouter(tags=["agencies"])


@router.post(
    "/v1/uploads/{month}",
    status_code=201,
    response_model=UploadOut,
    responses={
        **ERRORS,
        200: {"model": UploadOut, "description": "this file had been received before"},
        409: refusal("the list has moved past this month"),
        413: refusal("larger than the service's limit"),
        422: refusal("not a valid upload for this store"),
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
async def upload(month: Month, request: Request, who: Caller, service: Current) -> JSONResponse:
    """Send the agency's ``.clk`` file for a month, as the request body. It is verified
    (checksum, the store's config and secret, the token's agency) before it is kept."""
    agency = agency_of(who)
    length = request.headers.get("content-length", "")
    try:
        got = await receive(
            service.store,
            service.settings.spool,
            agency,
            month,
            request.stream(),
            service.settings.upload_limit,
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


@router.get("/v1/uploads", response_model=list[ReceivedOut], responses=ERRORS)
def uploads(who: Caller, service: Current) -> list[ReceivedOut]:
    """The uploads received: an agency's own, or everyone's for staff."""
    agency = None if who.is_staff else agency_of(who)
    return [ReceivedOut.of(r) for r in listing(service.store, agency)]


@router.get(
    "/v1/results",
    response_class=Response,  # CSV when it answers; its refusals are JSON
    responses={
        **ERRORS,
        200: csv_answer(
            "record_id,person_id (and other_agencies where the store "
            "shares it) for each of the agency's records"
        ),
        404: refusal("no records of the agency yet"),
    },
)
def results(who: Caller, service: Current) -> PlainTextResponse:
    """The agency's own records and the person id the list gives each, as CSV."""
    agency = agency_of(who)
    try:
        text, _ = agency_csv(service.store, agency)
    except StoreError as err:
        raise HTTPException(404, err.one_line()) from None
    return PlainTextResponse(text, media_type="text/csv")


@router.get(
    "/v1/joint/{partner}",
    response_class=Response,  # CSV when it answers; its refusals are JSON
    responses={
        **ERRORS,
        200: csv_answer(
            "record_id,person_id,status,last_activity,partners for each of the "
            "agency's own consented records of people the partner also serves with consent"
        ),
        404: refusal("no such agency"),
        409: refusal("no case-conferencing agreement with the partner is in force"),
    },
)
def joint(partner: AgencyName, who: Caller, service: Current) -> PlainTextResponse:
    """The agency's joint participants with a partner, under a case-conferencing agreement
    in force today: its own record ids only, as ``linkage bnl joint`` writes them."""
    agency = agency_of(who)
    try:
        rows = joint_list(service.store, agency, partner)
    except UnknownAgency as err:
        raise HTTPException(404, err.one_line()) from None
    except StoreError as err:  # no agreement in force, or the agency itself as partner
        raise HTTPException(409, err.one_line()) from None
    return PlainTextResponse(joint_csv(rows), media_type="text/csv")


@router.get(
    "/v1/notices",
    response_class=Response,  # CSV when it answers; its refusals are JSON
    responses={
        **ERRORS,
        200: csv_answer(
            "month,record_id,person_id,event for each event on a person the "
            "agency serves with a partner under a notification agreement"
        ),
    },
)
def agency_notices(
    who: Caller,
    service: Current,
    since: Annotated[str | None, Query(pattern=YYYY_MM, description="YYYY-MM")] = None,
) -> PlainTextResponse:
    """The agency's notices (of ``since`` and later months), as ``linkage bnl notices``
    writes them: its own record ids only."""
    agency = agency_of(who)
    try:
        found = notices_for(service.store, agency, since)
    except StoreError as err:
        raise HTTPException(404, err.one_line()) from None
    return PlainTextResponse(notices_csv(found), media_type="text/csv")
