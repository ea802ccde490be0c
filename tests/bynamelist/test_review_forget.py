"""Clerical rulings applied at once (merge, split) and consent withdrawal, on the hand-made
three-month list of test_monthly."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, insert, select

from linkage.bynamelist import ingest
from linkage.bynamelist.export import agency_mapping
from linkage.bynamelist.forget import forget
from linkage.bynamelist.review import decide, pending
from linkage.bynamelist.store.schema import (
    decisions,
    events,
    people,
    records,
    review,
    uploads,
    withdrawn,
)
from tests.bynamelist.test_monthly import _figures, _months, _store
from tests.test_cli import run


def _person(store, agency: str, record: str) -> str:
    with store.engine.connect() as conn:
        return conn.execute(
            select(records.c.person_id).where(
                (records.c.agency == agency) & (records.c.record_id == record)
            )
        ).scalar_one()


def test_never_splits_a_person_and_holds_at_the_next_ingest(
    tmp_path: Path, db: str, template
) -> None:
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    ingest(store, months["2026-01"], "2026-01")
    assert _person(store, "A", "a4") == _person(store, "B", "b4")
    assert _figures(store, "2026-01")["all"]["active"] == 4
    done = decide(store, ("B", "b4"), ("A", "a4"), "never", "different mothers' names")
    assert done.split_into and len(done.split_into) == 1
    kept = _person(store, "A", "a4")
    assert _person(store, "B", "b4") == done.split_into[0] != kept
    # the earliest record keeps the id; the month is derived again (a correction)
    assert _figures(store, "2026-01")["all"]["active"] == 5
    with store.engine.connect() as conn:
        split = conn.execute(select(events).where(events.c.kind == "split")).one()
        assert (split.person_id, split.other_person_id) == (kept, done.split_into[0])
        assert conn.execute(select(decisions.c.kind)).scalars().all() == ["never"]
    ingest(store, months["2026-02"], "2026-02")
    assert _person(store, "A", "a4") == kept != _person(store, "B", "b4")


def test_same_merges_into_the_older_person_now(tmp_path: Path, db: str, template) -> None:
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    ingest(store, months["2026-01"][:1], "2026-01")
    older = _person(store, "A", "a0")
    ingest(store, months["2026-01"][1:], "2026-01")
    younger = _person(store, "B", "b2")
    assert decide(store, ("A", "a0"), ("B", "b2"), "same").merged
    assert _person(store, "B", "b2") == older
    with store.engine.connect() as conn:
        assert (
            conn.execute(select(people.c.merged_into).where(people.c.id == younger)).scalar_one()
            == older
        )
    assert _figures(store, "2026-01")["all"]["active"] == 3
    # the ruling holds through the next month's re-linking
    ingest(store, months["2026-02"], "2026-02")
    assert _person(store, "B", "b2") == _person(store, "A", "a0") == older


def test_forget_removes_a_record_everywhere_and_for_good(tmp_path: Path, db: str, template) -> None:
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    ingest(store, months["2026-01"], "2026-01")
    ingest(store, months["2026-02"], "2026-02")
    decide(store, ("B", "b7"), ("A", "a8"), "never")
    person = _person(store, "B", "b7")
    active = _figures(store, "2026-02")["all"]["active"]
    assert forget(store, "B", "b7", "consent withdrawn, request 17") == person
    assert _figures(store, "2026-02")["all"]["active"] == active - 1
    assert "b7" not in agency_mapping(store, "B")
    with store.engine.connect() as conn:
        assert conn.execute(select(decisions)).all() == []
        reason = conn.execute(select(events.c.reason).where(events.c.kind == "forget")).scalar_one()
        assert "consent withdrawn" in reason and "0 record(s) of the person remain" in reason
        assert conn.execute(select(withdrawn.c.record_id)).scalars().all() == ["b7"]
    report = ingest(store, months["2026-03"], "2026-03")
    assert [f["withdrawn"] for f in report.files] == [0, 1]
    with store.engine.connect() as conn:
        assert conn.execute(select(records).where(records.c.record_id == "b7")).all() == []


def test_review_and_forget_from_the_command_line(
    tmp_path: Path, db: str, template, capsys, monkeypatch
) -> None:
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    ingest(store, months["2026-01"], "2026-01")
    code, out, _ = run(["bnl", "review", "--db", db], capsys, monkeypatch)
    listed = pending(store)
    assert code == 0
    assert (
        out.splitlines() == ["no pairs to review"]
        if not listed
        else len(out.splitlines()) == 1 + len(listed)  # a header line, then one a pair
    )
    code, _, err = run(
        ["bnl", "review", "--db", db, "--decide", "999", "same"], capsys, monkeypatch
    )
    assert code == 2 and "no pair 999 in the review list" in err
    code, out, err = run(
        ["bnl", "review", "--db", db, "--pair", "A", "a4", "B", "b4", "--ruling", "never"],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "the person is split" in out, err
    code, _, err = run(
        ["bnl", "review", "--db", db, "--pair", "A", "nope", "B", "b4", "--ruling", "same"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "no record nope of agency A" in err and "Traceback" not in err
    code, _, err = run(
        ["bnl", "forget", "--db", db, "--agency", "A", "--record", "a0", "--reason", " "],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "needs a reason for the audit trail" in err
    assert _person(store, "A", "a0")  # still there
    code, out, _ = run(
        ["bnl", "forget", "--db", db, "--agency", "A", "--record", "a0", "--reason", "ref 9"],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "withdrew the record" in out
    code, _, err = run(
        ["bnl", "forget", "--db", db, "--agency", "A", "--record", "a0", "--reason", "ref 9"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "no record a0 of agency A" in err


def test_a_ruling_decides_a_queued_pair_whichever_way_round_it_was_queued(
    tmp_path: Path, db: str, template
) -> None:
    """The queue keeps a pair in the matcher's order (B before A, say); a ruling given in
    either order takes it off the queue."""
    store = _store(tmp_path, db)
    ingest(store, _months(tmp_path, template)["2026-01"], "2026-01")
    with store.engine.begin() as conn:
        conn.execute(delete(review))
        upload = conn.execute(select(func.max(uploads.c.id))).scalar_one()
        for first, second in ((("B", "b2"), ("A", "a0")), (("A", "a1"), ("B", "b3"))):
            pair = {"agency_a": first[0], "record_a": first[1]}
            pair |= {"agency_b": second[0], "record_b": second[1]}
            conn.execute(
                insert(review).values(upload_id=upload, score=0.5, reason="review band", **pair)
            )
    decide(store, ("A", "a0"), ("B", "b2"), "never")  # given the other way round
    decide(store, ("A", "a1"), ("B", "b3"), "never")  # given as queued
    assert pending(store) == []


def test_a_ruling_takes_off_the_queue_every_pair_it_settles(
    tmp_path: Path, db: str, template
) -> None:
    """'same' on a0 and a4 makes a0 one person with a4 and b4, so the queued pair a0-b4 is
    settled too; a pair of two other people stays."""
    store = _store(tmp_path, db)
    ingest(store, _months(tmp_path, template)["2026-01"], "2026-01")
    assert _person(store, "A", "a4") == _person(store, "B", "b4") != _person(store, "A", "a0")
    assert _person(store, "A", "a1") != _person(store, "B", "b3")
    with store.engine.begin() as conn:
        conn.execute(delete(review))
        upload = conn.execute(select(func.max(uploads.c.id))).scalar_one()
        for first, second in (
            (("A", "a0"), ("A", "a4")),
            (("A", "a0"), ("B", "b4")),
            (("A", "a1"), ("B", "b3")),
        ):
            pair = {"agency_a": first[0], "record_a": first[1]}
            pair |= {"agency_b": second[0], "record_b": second[1]}
            conn.execute(
                insert(review).values(upload_id=upload, score=0.5, reason="review band", **pair)
            )
    assert decide(store, ("A", "a0"), ("A", "a4"), "same").merged
    assert [(p.a, p.b) for p in pending(store)] == [(("A", "a1"), ("B", "b3"))]


def test_the_queue_puts_the_rulings_that_change_the_count_most_first(
    tmp_path: Path, db: str, template, capsys, monkeypatch
) -> None:
    """A refused merge at 1.0 first; then the pairs of one couple of people together behind
    their best; each with why it waits, in words; the CLI lists them ranked under a header."""
    store = _store(tmp_path, db)
    ingest(store, _months(tmp_path, template)["2026-01"], "2026-01")
    people = {r: _person(store, *r) for r in (("A", "a0"), ("A", "a1"), ("A", "a4"), ("B", "b2"))}
    assert len(set(people.values())) == 4
    queued = [
        (("A", "a1"), ("B", "b2"), 0.60, "review band"),
        (("A", "a0"), ("B", "b4"), 0.55, "review band"),  # the same couple as the next
        (("A", "a0"), ("A", "a4"), 0.90, "review band"),
        (("A", "a1"), ("A", "a4"), 1.00, "weak support"),
    ]
    with store.engine.begin() as conn:
        conn.execute(delete(review))
        upload = conn.execute(select(func.max(uploads.c.id))).scalar_one()
        for first, second, score, reason in queued:
            pair = {"agency_a": first[0], "record_a": first[1]}
            pair |= {"agency_b": second[0], "record_b": second[1]}
            conn.execute(
                insert(review).values(upload_id=upload, score=score, reason=reason, **pair)
            )
    got = pending(store)
    assert [(p.a, p.b) for p in got] == [
        (("A", "a1"), ("A", "a4")),
        (("A", "a0"), ("A", "a4")),
        (("A", "a0"), ("B", "b4")),
        (("A", "a1"), ("B", "b2")),
    ]
    assert [round(p.expected_change, 2) for p in got] == [1.0, 0.9, 0.55, 0.6]
    assert "could chain two different people" in got[0].why and "1.00" in got[0].why
    assert "between the thresholds" in got[1].why
    code, out, _ = run(["bnl", "review", "--db", db], capsys, monkeypatch)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("rank   pair") and len(lines) == 5
    assert lines[1].split()[:2] == ["1", str(got[0].id)] and "-1.00" in lines[1]
