"""``linkage demo``: a community's by-name list kept for months, on synthetic data, as its
agencies and coordinator would run it.

It simulates the community (monthly HMIS exports from several agencies, with the truth), makes
a shared secret, and then each month encodes every agency's export exactly as
``linkage encode FOLDER/`` does and ingests the uploads exactly as ``linkage bnl ingest``
does. It prints the last month's report as ``linkage bnl report`` does and, as a researcher
would, compares the list with the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from linkage.bynamelist import build_report, create_store
from linkage.bynamelist.report import render_text
from linkage.config import builtin_config_path, load_config
from linkage.encoding.keys import read_secret, write_secret
from linkage.evaluate.longitudinal import run_scenario, upload_path
from linkage.evaluate.scenario import write_scenario
from linkage.inspect import summarize

STORE = "bynamelist.db"


def run_demo(out: Path, people: int, agencies: int, months: int, seed: int) -> Iterator[str]:
    """Run the demo into ``out``, yielding lines for the terminal."""
    out.mkdir(parents=True, exist_ok=True)
    yield (
        f"1. synthetic community: {people} people, {agencies} agencies, {months} months of "
        f"monthly HMIS exports (seed {seed})"
    )
    scenario = write_scenario(out / "exports", people, agencies, months=months, seed=seed)
    key = out / "community.key"
    if not key.exists():
        write_secret(key)
    yield f"2. shared secret: {key} (agencies only; never sent to the coordinator)"
    config_path = builtin_config_path("hmis")
    config = load_config(config_path)
    yield f"3. config: {config.name}, fingerprint {config.fingerprint[:16]}..."
    db = out / STORE
    db.unlink(missing_ok=True)  # the demo's own list from an earlier run: start the year again
    store = create_store(str(db), config_path)
    yield f"4. each month, every agency encodes its export; the coordinator ingests them into {db}"
    uploads = out / "uploads"
    scores = []
    for report, score in run_scenario(scenario, store, read_secret(key), uploads):
        scores.append(score)
        found, true = score.found["all"]["active"], score.true["all"]["active"]
        yield (
            f"   {report.month}: {report.records} records, {report.people} people "
            f"({report.new_people} new, {report.merges} merged), {report.review} to review; "
            f"actively homeless {found} (truly {true})"
        )
    first = upload_path(uploads, scenario.months[0], scenario.agencies[0])
    yield "5. what the coordinator receives (one upload):"
    for line in summarize(first):
        yield "   " + line
    yield "6. the by-name list report (linkage bnl report):"
    for line in render_text(build_report(store, scenario.months[-1])).splitlines():
        yield "   " + line
    last = scores[-1]
    quality = last.linkage
    yield (
        f"7. against the truth: linkage precision {quality.precision:.3f}, recall "
        f"{quality.recall:.3f}, F1 {quality.f1:.3f}; {quality.entities} people found for "
        f"{quality.true_entities} real ({quality.count_error:+.1%}); statuses right for "
        f"{last.statuses_right} of {len(last.exact)} people the list holds exactly"
    )
    yield (
        f"done: exports in {scenario.folder}, uploads in {uploads}; see the list with "
        f"'linkage bnl report --db {db}'"
    )
