"""Sharing agreements: nothing of one agency's clients is named to another without one.

Case conferencing and notification are work between named agencies, under a written
agreement with a purpose and a term. Staff record it in the store (``linkage bnl agreement
add``); every joint-participant list and notice checks that one is in force, for its purpose,
between the agencies it names, on the day it is asked for. An agreement ends on its end day,
or earlier when staff end it; an ended agreement is kept (with when it ended) for the audit
trail, and adding, ending and every refusal name agencies and dates only, never a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import Connection, RowMapping, insert, select, union, update

from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import agreement_agencies, agreements, events, tokens, uploads

#: What an agreement is for: ``case_conferencing`` (joint-participant lists, agendas) or
#: ``notification`` (notices of events on shared clients).
PURPOSES = ("case_conferencing", "notification")
#: The parties an agreement may name (a coordinated-access network can have hundreds of
#: agencies; one agreement is a partnership, not the whole network).
MAX_PARTIES = 64


class UnknownAgency(StoreError):
    """An agency the store knows nothing of: never uploaded, no service token (a typo)."""


class NotAgreed(StoreError):
    """Sharing asked for without an agreement in force that covers it."""


@dataclass(frozen=True)
class Agreement:
    """One agreement as the store holds it."""

    id: int
    purpose: str
    agencies: tuple[str, ...]
    starts: date
    ends: date
    ended_at: datetime | None
    note: str

    def in_force(self, day: date) -> bool:
        """Whether it covers ``day``: within its term, and not ended on or before that day."""
        ended = self.ended_at is not None and self.ended_at.date() <= day
        return self.starts <= day <= self.ends and not ended

    def state(self, day: date) -> str:
        """In words, as ``agreement list`` shows it on ``day``."""
        if self.ended_at is not None and self.ended_at.date() <= day:
            return f"ended {self.ended_at.date().isoformat()}"
        if day < self.starts:
            return "not yet in force"
        return "in force" if day <= self.ends else "expired"


def purpose_of(text: str) -> str:
    """A purpose as given (``case-conferencing`` or ``case_conferencing``), checked."""
    purpose = text.strip().lower().replace("-", "_")
    if purpose not in PURPOSES:
        raise StoreError(
            f"no agreement purpose '{text[:40]}'",
            f"give one of {', '.join(p.replace('_', '-') for p in PURPOSES)}",
        )
    return purpose


def add_agreement(
    store: Store,
    agencies: Sequence[str],
    purpose: str,
    starts: date,
    ends: date,
    note: str,
    today: date | None = None,
) -> Agreement:
    """Record an agreement between ``agencies`` (two or more the store knows: each has sent
    an upload or holds a service token). Refused, with nothing written, for an unknown agency,
    an end before its start or before today, or a purpose that is not one of
    :data:`PURPOSES`."""
    today = today or date.today()
    purpose = purpose_of(purpose)
    parties = tuple(sorted({a.strip() for a in agencies if a.strip()}))
    if len(parties) < 2:
        raise StoreError(
            "an agreement is between two or more agencies", "name them: --agencies A,B"
        )
    if len(parties) > MAX_PARTIES:
        raise StoreError(f"an agreement names at most {MAX_PARTIES} agencies")
    if ends < starts:
        raise StoreError(
            f"the agreement ends ({ends.isoformat()}) before it starts ({starts.isoformat()})",
            "give --end on or after --start",
        )
    if ends < today:
        raise StoreError(
            f"the agreement would end ({ends.isoformat()}) before today ({today.isoformat()})",
            "an agreement past its end shares nothing; give its real end date",
        )
    now = datetime.now(UTC)
    with writing(store) as conn:
        refuse_unknown(conn, parties)
        made = conn.execute(
            insert(agreements).values(
                purpose=purpose,
                starts=starts,
                ends=ends,
                created_at=now,
                ended_at=None,
                note=" ".join(note.split()),
            )
        )
        agreement_id = int(made.inserted_primary_key[0])  # type: ignore[index]
        conn.execute(
            insert(agreement_agencies),
            [{"agreement_id": agreement_id, "agency": a} for a in parties],
        )
        _audit(
            conn,
            now,
            f"agreement {agreement_id} ({purpose}) between {', '.join(parties)} from "
            f"{starts.isoformat()} to {ends.isoformat()} recorded",
        )
    return Agreement(agreement_id, purpose, parties, starts, ends, None, " ".join(note.split()))


def end_agreement(
    store: Store, agreement_id: int, reason: str, today: date | None = None
) -> Agreement:
    """End an agreement now, before its term: from today nothing is shared under it. Refused
    for an agreement that is not in force (ended, expired, or not yet begun)."""
    today = today or date.today()
    if not reason.strip():
        raise StoreError("ending an agreement needs a reason for the audit trail", "pass --reason")
    now = datetime.now(UTC)
    with writing(store) as conn:
        found = _read(conn, agreement_id)
        if found is None:
            raise StoreError(f"no agreement {agreement_id}", "see 'linkage bnl agreement list'")
        if not found.in_force(today) and today >= found.starts:
            raise StoreError(f"agreement {agreement_id} is {found.state(today)} already")
        conn.execute(update(agreements).where(agreements.c.id == agreement_id).values(ended_at=now))
        _audit(conn, now, f"agreement {agreement_id} ended ({' '.join(reason.split())})")
    return replace(found, ended_at=now)


def list_agreements(store: Store) -> list[Agreement]:
    """Every agreement, ended ones too, oldest first."""
    with store.engine.connect() as conn:
        return read_agreements(conn)


def partners(conn: Connection, agency: str, purpose: str, day: date) -> set[str]:
    """The agencies an agreement in force on ``day`` for ``purpose`` joins to ``agency``."""
    return joined_to(in_force(read_agreements(conn), purpose, day), agency)


def in_force(agreements: Sequence[Agreement], purpose: str, day: date) -> list[Agreement]:
    """Those of ``agreements`` for ``purpose`` that are in force on ``day``."""
    return [a for a in agreements if a.purpose == purpose and a.in_force(day)]


def joined_to(agreements: Sequence[Agreement], agency: str) -> set[str]:
    """The other agencies that any of ``agreements`` names beside ``agency``."""
    return {other for a in agreements if agency in a.agencies for other in a.agencies} - {agency}


def refuse_unknown(conn: Connection, agencies: Sequence[str]) -> None:
    """Refuse a name that is no agency of the store's, before anything is written or named."""
    unknown = sorted(set(agencies) - known_agencies(conn))
    if unknown:
        raise UnknownAgency(
            f"the store knows no agency '{unknown[0]}'",
            "name agencies as they upload (linkage encode --agency); nothing was done",
        )


def known_agencies(conn: Connection) -> set[str]:
    """The agencies the store knows: each has sent an upload or holds a service token."""
    query = union(
        select(uploads.c.agency), select(tokens.c.agency).where(tokens.c.agency.is_not(None))
    )
    return {row[0] for row in conn.execute(query)}


def read_agreements(conn: Connection) -> list[Agreement]:
    """Every agreement, in the caller's transaction."""
    parties: dict[int, list[str]] = {}
    for aid, agency in conn.execute(
        select(agreement_agencies.c.agreement_id, agreement_agencies.c.agency).order_by(
            agreement_agencies.c.agency
        )
    ):
        parties.setdefault(aid, []).append(agency)
    rows = conn.execute(select(agreements).order_by(agreements.c.id)).mappings().all()
    return [_agreement(row, parties.get(row["id"], [])) for row in rows]


def _read(conn: Connection, agreement_id: int) -> Agreement | None:
    return next((a for a in read_agreements(conn) if a.id == agreement_id), None)


def _agreement(row: RowMapping, parties: list[str]) -> Agreement:
    ended = row["ended_at"]
    if ended is not None and ended.tzinfo is None:  # SQLite hands back naive UTC
        ended = ended.replace(tzinfo=UTC)
    return Agreement(
        id=row["id"],
        purpose=row["purpose"],
        agencies=tuple(parties),
        starts=row["starts"],
        ends=row["ends"],
        ended_at=ended,
        note=row["note"],
    )


def _audit(conn: Connection, now: datetime, reason: str) -> None:
    conn.execute(insert(events).values(at=now, kind="agreement", reason=reason))
