"""What any valid token may read: a month's published figures, small cells suppressed."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException

from linkage.bynamelist import StoreError, build_report, latest_month
from linkage.bynamelist.report import render_json
from linkage.service.context import Caller, Current
from linkage.service.models import ERRORS, MonthOrLatest, refusal

router = APIRouter(tags=["reports"])


@router.get("/v1/reports/{month}", responses={**ERRORS, 404: refusal("no such month")})
def report(month: MonthOrLatest, who: Caller, service: Current) -> Any:
    """A month's published figures (small cells suppressed), as ``bnl report --format
    json`` writes them; ``latest`` for the list's latest month."""
    del who  # any valid token may read the published figures
    try:
        chosen = latest_month(service.store) if month == "latest" else month
        return json.loads(render_json(build_report(service.store, chosen)))
    except StoreError as err:
        raise HTTPException(404, err.one_line()) from None
