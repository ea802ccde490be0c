"""Who may call the service: one token per agency and per staff member.

A token is 256 random bits shown once, when it is made, and written to a file for its holder;
the store keeps only its SHA-256 digest, so a copy of the database lets nobody in. A presented
token is digested and its row found by digest; the digests are then compared in constant time.
Revoking a token keeps its row (the audit trail names it) and stops it at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import tokens

AGENCY = "agency"
STAFF = "staff"
#: Tokens start with this, so that a leaked one is recognisable (secret scanners, logs).
PREFIX = "lkt_"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a token's id, its role, and the agency it speaks for."""

    token_id: int
    role: str
    agency: str | None

    @property
    def is_staff(self) -> bool:
        return self.role == STAFF


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(store: Store, role: str, agency: str | None, label: str) -> tuple[int, str]:
    """Make a token; returns its id and the token itself (the only time it is seen)."""
    if role not in (AGENCY, STAFF):
        raise StoreError(f"unknown role '{role}'", "use agency or staff")
    if (role == AGENCY) != bool(agency):
        raise StoreError(
            "an agency token needs the agency's name, a staff token none",
            "pass --agency NAME for an agency, --staff for coordinator staff",
        )
    token = PREFIX + secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        token_id: int = conn.execute(
            insert(tokens)
            .values(
                digest=_digest(token),
                role=role,
                agency=agency,
                label=label,
                created_at=datetime.now(UTC),
            )
            .returning(tokens.c.id)
        ).scalar_one()
    return token_id, token


def write_token_file(path: Path, token: str) -> None:
    """Write a new token to a new file that only its owner can read (never over a file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")


def revoke(store: Store, token_id: int) -> None:
    """Stop a token for good."""
    with store.engine.begin() as conn:
        done = conn.execute(
            update(tokens)
            .where((tokens.c.id == token_id) & tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if done.rowcount != 1:
            raise StoreError(
                f"no live token {token_id}", "'linkage token list' shows the tokens and their ids"
            )


def listing(store: Store) -> list[dict[str, object]]:
    """Every token's id, role, agency, label and dates (never the token or its digest)."""
    columns = [c for c in tokens.c if c.name != "digest"]
    with store.engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(tokens.c.id)).mappings().all()
    return [dict(r) for r in rows]


def identify(conn: Connection, presented: str) -> tuple[int | None, Principal | None]:
    """The id of the token presented, if the store knows it (revoked ones too, so that the
    audit can name them), and the caller it stands for while it is live."""
    if not presented.startswith(PREFIX) or len(presented) > 100:
        return None, None
    digest = _digest(presented)
    row = conn.execute(
        select(
            tokens.c.id, tokens.c.digest, tokens.c.role, tokens.c.agency, tokens.c.revoked_at
        ).where(tokens.c.digest == digest)
    ).first()
    if row is None or not hmac.compare_digest(row.digest, digest):
        return None, None
    if row.revoked_at is not None:
        return row.id, None
    return row.id, Principal(row.id, row.role, row.agency)
