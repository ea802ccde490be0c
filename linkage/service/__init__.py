"""The coordinator as a service: authenticated uploads, background ingests, agency results and
the staff dashboard.

Public API: :func:`create_app` (with :class:`Settings`) for the server, :func:`issue_token`,
:func:`revoke_token` and :func:`token_listing` for its tokens, and :func:`upload_listing` and
:func:`discard_upload` for the uploads it holds. The agencies' side of the conversation (the
upload client) is :mod:`linkage.agency.upload`, so an agency's install never carries the
server's framework, matcher or charts.
"""

from __future__ import annotations

from linkage.service.app import create_app
from linkage.service.auth import issue as issue_token
from linkage.service.auth import listing as token_listing
from linkage.service.auth import revoke as revoke_token
from linkage.service.context import Settings
from linkage.service.spool import Refused as UploadRefused
from linkage.service.spool import discard as discard_upload
from linkage.service.spool import listing as upload_listing

__all__ = [
    "Settings",
    "UploadRefused",
    "create_app",
    "discard_upload",
    "issue_token",
    "revoke_token",
    "token_listing",
    "upload_listing",
]
