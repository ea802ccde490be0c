"""An operator in a hurry: a month typed wrong is refused in one line and leaves the store as
it was, so one typo cannot freeze the list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.bynamelist.conftest import dump
from tests.service.conftest import linkage


def test_a_month_with_a_trailing_newline_is_refused(
    make_db: Callable[[], str], month_files: list[Path]
) -> None:
    target = make_db()
    assert linkage("bnl", "init", "--db", target).returncode == 0
    before = dump(target)
    done = linkage("bnl", "ingest", "--db", target, "--month", "2026-10\n", *map(str, month_files))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "month '2026-10\\n' is not YYYY-MM" in done.stderr
    assert dump(target) == before


def test_a_month_past_the_uploads_activity_is_refused_unless_asked_for(
    make_db: Callable[[], str], month_files: list[Path]
) -> None:
    target = make_db()
    assert linkage("bnl", "init", "--db", target).returncode == 0
    before = dump(target)
    files = list(map(str, month_files))
    typo = linkage("bnl", "ingest", "--db", target, "--month", "2099-12", *files)
    assert typo.returncode == 2, typo.stderr
    assert typo.stderr.count("\n") == 1
    assert "activity runs to 2026-10, but the month given is 2099-12" in typo.stderr
    assert dump(target) == before
    # the real month still goes in; a later one only when the operator insists
    assert linkage("bnl", "ingest", "--db", target, "--month", "2026-10", *files).returncode == 0
    other = make_db()
    assert linkage("bnl", "init", "--db", other).returncode == 0
    later = ["bnl", "ingest", "--db", other, "--month", "2026-11", *files]
    assert linkage(*later).returncode == 2
    forced = linkage(*later, "--past-activity")
    assert forced.returncode == 0, forced.stderr
