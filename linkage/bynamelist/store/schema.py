"""The by-name list's tables, as SQLAlchemy Core metadata.

The schema is created and changed only by the Alembic migrations beside this module
(``migrations/versions``); this metadata is what the code reads and writes through, and a test
checks that the migrations build exactly it.

Nothing here holds an identifier: records are named by (agency, record id) as the agencies
sent them (pseudonymised where they chose to), and their encodings are the same bits the
coordinator already received.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: Settings fixed when the store is made: the config (its TOML text, and the fingerprint it
#: gave then, checked on every opening) and the key check value of the shared secret, set by
#: the first upload.
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: One row per ingested .clk file; ``digest`` (SHA-256 of the file) makes re-ingesting it a
#: no-op.
uploads = Table(
    "uploads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(200), nullable=False),
    Column("month", String(7), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("records", Integer, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    # the day the upload's activity runs to; null when it carried none
    Column("activity_as_of", Date, nullable=True),
)

#: People, by a random id that means nothing outside the store. A person merged into another
#: keeps its row with ``merged_into`` set, so an id an agency was once given still resolves.
people = Table(
    "people",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("created_upload", Integer, ForeignKey("uploads.id"), nullable=False),
    Column("merged_into", String(16), ForeignKey("people.id"), nullable=True),
    Index("ix_people_merged_into", "merged_into"),
)

#: Every record the agencies have sent, latest encoding and activity kept (activity columns
#: are null when the record's latest upload carried none; see :mod:`linkage.formats.activity`).
records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("person_id", String(16), ForeignKey("people.id"), nullable=False),
    Column("first_upload", Integer, ForeignKey("uploads.id"), nullable=False),
    Column("last_upload", Integer, ForeignKey("uploads.id"), nullable=False),
    Column("clk", LargeBinary, nullable=False),
    Column("field_clks", LargeBinary, nullable=True),
    Column("block_keys", LargeBinary, nullable=True),
    Column("last_activity", Date, nullable=True),
    Column("situation", SmallInteger, nullable=True),
    Column("project_type", SmallInteger, nullable=True),
    Column("flags", SmallInteger, nullable=True),
    # 1 where the record's latest upload says its client consented to be named to partners
    # under an agreement (:mod:`linkage.formats.consent`), else 0
    Column("consent", SmallInteger, nullable=False, server_default="0"),
    # the household of the client's latest enrollment, as the agency's keyed pseudonym (0:
    # none known), and 1 where the client heads it (:mod:`linkage.formats.household`)
    Column("household", BigInteger, nullable=False, server_default="0"),
    Column("head", SmallInteger, nullable=False, server_default="0"),
    UniqueConstraint("agency", "record_id", name="uq_records_agency_record"),
    Index("ix_records_person", "person_id"),
)
#: A record's encodings, as the upload carried them.
ENCODING_COLUMNS = ("clk", "field_clks", "block_keys")
#: A record's activity: its last day of service (a date) and three codes.
ACTIVITY_COLUMNS = ("last_activity", "situation", "project_type", "flags")
#: What a record's latest upload says of it besides its encodings: its activity, consent and
#: household.
ATTRIBUTE_COLUMNS = (*ACTIVITY_COLUMNS, "consent", "household", "head")

#: The audit trail: people made, merged and split, records forgotten, decisions taken, each
#: with why. Reasons name records and scores, never values.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("person_id", String(16), nullable=True),
    Column("other_person_id", String(16), nullable=True),
    Column("reason", Text, nullable=False),
)

#: A clerk's rulings on pairs of records: "same" (one person) or "never" (not one person).
#: Every later ingest honours them. Pairs are stored with (agency_a, record_a) first in order.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("agency_a", String(200), nullable=False),
    Column("record_a", String(200), nullable=False),
    Column("agency_b", String(200), nullable=False),
    Column("record_b", String(200), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, default=""),
    UniqueConstraint("agency_a", "record_a", "agency_b", "record_b", name="uq_decisions_pair"),
)

#: Pairs the last ingest left for a person to decide (review band, refused merges).
review = Table(
    "review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency_a", String(200), nullable=False),
    Column("record_a", String(200), nullable=False),
    Column("agency_b", String(200), nullable=False),
    Column("record_b", String(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False),
)

#: Each person's status at the end of each month, as computed when that month was ingested
#: and frozen from then on: late corrections are carried into the current month, never
#: written into history (docs/hmis.md). One row per month, its people's statuses as compressed
#: columns (:mod:`linkage.bynamelist.packed`; codes: :class:`linkage.bynamelist.status.Status`).
#: ``listed``: the populations whose list each person was on in any earlier month, so that
#: the next month need read only this one; a person with such bits is kept even in a month
#: without a status (code 0), so the chain never breaks. Months from before schema 0004 hold
#: 0 there (see the meta mark ``listed_before_from``).
status_months = Table(
    "status_months",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("layout", SmallInteger, nullable=False),
    Column("people_count", Integer, nullable=False),
    Column("people", LargeBinary, nullable=False),
    Column("status", LargeBinary, nullable=False),
    Column("flags", LargeBinary, nullable=False),
    Column("listed", LargeBinary, nullable=False),
)

#: The month's figures per population (active, inflow and outflow by kind, the reliability
#: difference), unsuppressed: reports suppress small cells when they are written out.
figures = Table(
    "figures",
    metadata,
    Column("month", String(7), nullable=False),
    Column("population", String(16), nullable=False),
    Column("measure", String(32), nullable=False),
    Column("value", Integer, nullable=False),
    PrimaryKeyConstraint("month", "population", "measure", name="pk_figures"),
)

#: Per month, from its latest ingest: how many actively homeless people the model's match
#: probabilities say the list holds, with an interval (``level``: 0.9 for 90%). The list's
#: active count is one answer; this is how sure it is (:mod:`linkage.bynamelist.interval`).
#: Frozen with the month's other figures; empty for configs that do not score with weights.
estimates = Table(
    "estimates",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("active", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("level", Float, nullable=False),
)

#: Per agency and month: its latest upload's month, its records, and how many actively
#: homeless people it knows (its coverage of the list).
coverage = Table(
    "coverage",
    metadata,
    Column("month", String(7), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("last_month", String(7), nullable=False),
    Column("records", Integer, nullable=False),
    Column("active", Integer, nullable=False),
    PrimaryKeyConstraint("month", "agency", name="pk_coverage"),
)

#: Records withdrawn (consent revoked): deleted from ``records`` everywhere, and skipped when a
#: later upload still holds them, so the removal holds until the agency drops the client.
withdrawn = Table(
    "withdrawn",
    metadata,
    Column("agency", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("agency", "record_id", name="pk_withdrawn"),
)

#: Aggregate counts from agencies that may not share even encoded identifiers (victim-service
#: providers): per month, population and measure, added to reports as not deduplicated.
counts = Table(
    "counts",
    metadata,
    Column("month", String(7), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("population", String(16), nullable=False),
    Column("measure", String(32), nullable=False),
    Column("value", Integer, nullable=False),
    PrimaryKeyConstraint("month", "agency", "population", "measure", name="pk_counts"),
)

#: The coordinator service's credentials: one token per agency and per staff member, kept only
#: as a SHA-256 digest (tokens are 256 random bits, so a fast digest cannot be reversed by
#: guessing), revocable. ``agency`` is the agency a token uploads for; null for staff.
tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("role", String(8), nullable=False),
    Column("agency", String(200), nullable=True),
    Column("label", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

#: Every request the service answered: who (token id; null without a valid token), what
#: (method, route, status), when. Never a payload, a query value or a token.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("token_id", Integer, nullable=True),
    Column("method", String(8), nullable=False),
    Column("route", String(200), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("source", String(64), nullable=True),  # the caller's address
)

#: Uploads the service received and verified, waiting in its spool folder for the month's
#: ingest (``job_id`` set once an ingest job takes them).
received = Table(
    "received",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(200), nullable=False),
    Column("month", String(7), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("file", String(500), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=True),
    Column("sent", Integer, nullable=False),  # the order of the agency's sends, re-sends too
    Column("discarded_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("agency", "month", "digest", name="uq_received_upload"),
)

#: Background work: a month's ingest. ``state``: queued, running, done or failed; a service
#: that restarts finds running jobs interrupted (their transaction never committed) and runs
#: them again from the start.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("month", String(7), nullable=False),
    Column("state", String(8), nullable=False),
    Column("progress", Text, nullable=False, default=""),
    Column("error", Text, nullable=True),
    Column("token_id", Integer, ForeignKey("tokens.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
)

#: What each ingest of the latest month found before it wrote (see
#: :mod:`linkage.bynamelist.rollback`): the upload ids it added, the records it rewrote as
#: compressed columns, and the people, review queue and settings as JSON. Only the latest
#: month's rows are kept.
undo = Table(
    "undo",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False),
    Column("uploads", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("records_before", LargeBinary, nullable=False),
    Column("other_before", Text, nullable=False),
)

#: Sharing agreements between named agencies, for a purpose (``case_conferencing``: each may
#: see which of its own consented clients the others serve; ``notification``: each is told
#: of events on the consented clients they share), from ``starts`` to ``ends`` (both days
#: included) or until ended early (``ended_at``). Nothing is shared without one in force.
agreements = Table(
    "agreements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("purpose", String(24), nullable=False),
    Column("starts", Date, nullable=False),
    Column("ends", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("note", Text, nullable=False, default=""),
)

#: The agencies party to each agreement (two or more).
agreement_agencies = Table(
    "agreement_agencies",
    metadata,
    Column("agreement_id", Integer, ForeignKey("agreements.id"), nullable=False),
    Column("agency", String(200), nullable=False),
    PrimaryKeyConstraint("agreement_id", "agency", name="pk_agreement_agencies"),
)

#: What agencies under a notification agreement are told: an event on a person they share
#: (both records' clients consented), in the month the list saw it, one row for each of the
#: agency's own records of the person. Recomputed with the month's statuses, so an event is
#: told once however often the month is recomputed.
notices = Table(
    "notices",
    metadata,
    Column("month", String(7), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("person_id", String(16), nullable=False),
    Column("event", String(24), nullable=False),
    PrimaryKeyConstraint("month", "agency", "record_id", "event", name="pk_notices"),
)

#: Groups of agencies (geographic, population, ...), an agency in any number: each group's
#: overlap with the list and with the other groups (:mod:`linkage.bynamelist.groups`).
agency_groups = Table(
    "agency_groups",
    metadata,
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("agency", String(200), nullable=False),
    PrimaryKeyConstraint("name", "agency", name="pk_agency_groups"),
)
