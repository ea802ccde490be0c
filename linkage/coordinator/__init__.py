"""The coordinator as a service: authenticated uploads, background ingests, agency results and
the staff dashboard.

Public API: :func:`create_app` (with :class:`Settings`) for the server, :func:`issue_token`,
:func:`revoke_token` and :func:`token_listing` for its tokens, :func:`upload_listing` and
:func:`discard_upload` for the uploads it holds, and :func:`upload` and :func:`results` for
the agencies' client. Coordinator side: imports nothing that reads
plaintext or holds the secret.

Names are imported when first used, so an agency's ``linkage upload`` loads the client (httpx)
and not the server's framework, matcher and charts (seconds at every start).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linkage.coordinator.app import Settings, create_app
    from linkage.coordinator.client import ServiceError, read_token, results, trust, upload
    from linkage.coordinator.spool import Refused as UploadRefused
    from linkage.coordinator.spool import discard as discard_upload
    from linkage.coordinator.spool import listing as upload_listing
    from linkage.coordinator.tokens import issue as issue_token
    from linkage.coordinator.tokens import listing as token_listing
    from linkage.coordinator.tokens import revoke as revoke_token

_WHERE = {
    "Settings": ("app", "Settings"),
    "create_app": ("app", "create_app"),
    "ServiceError": ("client", "ServiceError"),
    "read_token": ("client", "read_token"),
    "results": ("client", "results"),
    "upload": ("client", "upload"),
    "trust": ("client", "trust"),
    "UploadRefused": ("spool", "Refused"),
    "discard_upload": ("spool", "discard"),
    "upload_listing": ("spool", "listing"),
    "issue_token": ("tokens", "issue"),
    "token_listing": ("tokens", "listing"),
    "revoke_token": ("tokens", "revoke"),
}

__all__ = [
    "ServiceError",
    "Settings",
    "UploadRefused",
    "create_app",
    "discard_upload",
    "issue_token",
    "read_token",
    "results",
    "revoke_token",
    "token_listing",
    "trust",
    "upload",
    "upload_listing",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _WHERE[name]
    return getattr(import_module(f"{__name__}.{module}"), attribute)
