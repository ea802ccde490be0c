"""The API's routes, one module per audience: :mod:`.agencies` (an agency's token),
:mod:`.staff` (the coordinator's staff), :mod:`.published` (any valid token) and
:mod:`.pages` (no token: the dashboard's page and the health check)."""

from __future__ import annotations

from fastapi import APIRouter

from linkage.service.routes import agencies, pages, published, staff

#: In the order the OpenAPI description lists them.
ROUTERS: tuple[APIRouter, ...] = (pages.router, agencies.router, published.router, staff.router)

__all__ = ["ROUTERS"]
