"""What every route is given: the service's store, settings and worker, and the caller.

The routes are plain functions in :mod:`linkage.service.routes`; they reach the service's
state through these dependencies instead of a closure, so each audience's routes can live in
a module of its own and be read without :func:`linkage.service.app.create_app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from linkage.bynamelist.store import Store
from linkage.service.auth import Principal
from linkage.service.jobs import Worker

#: Uploads above this many bytes are refused (a million records with field filters and
#: blocking keys take about 300 MB).
DEFAULT_UPLOAD_LIMIT = 1 << 30


@dataclass(frozen=True)
class Settings:
    """What ``linkage serve`` configures."""

    spool: Path
    upload_limit: int = DEFAULT_UPLOAD_LIMIT


@dataclass(frozen=True)
class Service:
    """One running service's state, kept on the app (``app.state.service``)."""

    store: Store
    settings: Settings
    worker: Worker


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


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


Current = Annotated[Service, Depends(_service)]
Caller = Annotated[Principal, Depends(_caller)]


def agency_of(who: Principal) -> str:
    """The caller's agency; only an agency's token has one.

    Checked in the route's body rather than as a dependency, so a malformed request is told
    what is malformed (422) before it is told who may send it, as it always was.
    """
    if who.agency is None:
        raise HTTPException(403, "only an agency's token can do this")
    return who.agency


def require_staff(who: Principal) -> None:
    """Refuse a caller that is not the coordinator's staff (checked as :func:`agency_of` is)."""
    if not who.is_staff:
        raise HTTPException(403, "only the coordinator's staff can do this")
