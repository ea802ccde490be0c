"""The coordinator as a service: authenticated uploads, background ingests, agency results.

Public API: :func:`create_app` (with :class:`Settings`) for the server, :func:`issue_token`,
:func:`revoke_token` and :func:`token_listing` for its tokens, and :func:`upload` and
:func:`results` for the agencies' client. Coordinator side: imports nothing that reads
plaintext or holds the secret.
"""

from linkage.coordinator.app import Settings, create_app
from linkage.coordinator.client import ServiceError, read_token, results, upload
from linkage.coordinator.tokens import issue as issue_token
from linkage.coordinator.tokens import listing as token_listing
from linkage.coordinator.tokens import revoke as revoke_token

__all__ = [
    "ServiceError",
    "Settings",
    "create_app",
    "issue_token",
    "read_token",
    "results",
    "revoke_token",
    "token_listing",
    "upload",
]
