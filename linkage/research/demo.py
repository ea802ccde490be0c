"""``linkage demo``: a community's by-name list kept for months, on synthetic data, as its
agencies and coordinator would run it.

It simulates the community (monthly HMIS exports from several agencies, with the truth), makes
a shared secret, and then each month encodes every agency's export exactly as
``linkage encode FOLDER/`` does and ingests the uploads exactly as ``linkage bnl ingest``
does. It prints the last month's report as ``linkage bnl report`` does and, as a researcher
would, compares the list with the truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from linkage.agency.encoding.keys import read_secret, write_secret
from linkage.bynamelist import build_report, create_store
from linkage.bynamelist.agreements import add_agreement
from linkage.bynamelist.joint import joint_csv, joint_list
from linkage.bynamelist.notices import notices_csv, notices_for
from linkage.bynamelist.report import render_text
from linkage.bynamelist.store import Store
from linkage.formats.config import Config, builtin_config_path, load_config
from linkage.formats.summary import summarize
from linkage.matching import Linker, load_uploads
from linkage.research.datasets import read_truth
from linkage.research.evaluation.fates import pair_fates
from linkage.research.evaluation.longitudinal import MonthScore, run_scenario, upload_path
from linkage.research.synthetic.scenario import CONSENT_FILE, Scenario, write_scenario

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
    scores: list[MonthScore] = []
    for report, score in run_scenario(scenario, store, read_secret(key), uploads):
        if not scores:  # every agency has uploaded once: the partners sign their agreements
            sign_agreements(store, scenario)
        scores.append(score)
        found, true = score.found["all"]["active"], score.true["all"]["active"]
        guess = score.active_estimate
        sure = f", estimated {guess.estimate:.0f}" if guess else ""
        yield (
            f"   {report.month}: {report.records} records, {report.people} people "
            f"({report.new_people} new, {report.merges} merged), {report.review} to review; "
            f"actively homeless {found}{sure} (truly {true})"
        )
    first = upload_path(uploads, scenario.months[0], scenario.agencies[0])
    yield "5. what the coordinator receives (one upload):"
    for line in summarize(first):
        yield "   " + line
    yield "6. the by-name list report (linkage bnl report):"
    for line in render_text(build_report(store, scenario.months[-1])).splitlines():
        yield "   " + line
    yield from _joint_lines(store, scenario)
    last = scores[-1]
    quality = last.linkage
    yield (
        f"8. against the truth: linkage precision {quality.precision:.3f}, recall "
        f"{quality.recall:.3f}, F1 {quality.f1:.3f}; {quality.entities} people found for "
        f"{quality.true_entities} real ({quality.count_error:+.1%}); statuses right for "
        f"{last.statuses_right} of {len(last.exact)} people the list holds exactly"
    )
    yield from _count_lines(scenario, config, uploads, quality.entities, quality.true_entities)
    yield (
        f"done: exports in {scenario.folder}, uploads in {uploads}; see the list with "
        f"'linkage bnl report --db {db}'"
    )


def sign_agreements(store: Store, scenario: Scenario) -> None:
    """The first two agencies agree to case conferencing and to notices, for a year (once
    every agency has uploaded once: an agreement names agencies the store knows)."""
    if len(scenario.agencies) < 2:
        return
    today = date.today()
    for purpose in ("case-conferencing", "notification"):
        add_agreement(
            store, scenario.agencies[:2], purpose, today, today + timedelta(days=364), "demo"
        )


def _joint_lines(store: Store, scenario: Scenario) -> Iterator[str]:
    """Case conferencing between the first two agencies: the first one's joint participants
    (as ``linkage bnl joint`` writes them), how they fare against the truth and the agencies'
    consent lists, and the notices it was sent month by month."""
    if len(scenario.agencies) < 2:
        return
    ours, theirs = scenario.agencies[:2]
    rows = joint_list(store, ours, theirs)
    yield (
        f"7. case conferencing between {ours} and {theirs} (agreements since the first month; "
        f"clients' consent from each export's {CONSENT_FILE}): {ours}'s joint participants "
        f"(linkage bnl joint), {len(rows)} of its own records, e.g."
    )
    for line in joint_csv(rows[:3]).splitlines():
        yield "   " + line
    month = scenario.months[-1]
    truth = read_truth(scenario.truth)
    consented = {
        agency: set(_listed(folder / CONSENT_FILE))
        for agency, folder in zip(scenario.agencies, scenario.exports(month), strict=True)
    }
    served = {truth[(theirs, r)] for r in consented[theirs]}
    expected = {r for r in consented[ours] if truth[(ours, r)] in served}
    listed = {r.record_id for r in rows}
    yield (
        f"   against the truth: {len(listed & expected)} of them are people both agencies serve "
        f"with consent at both, {len(listed - expected)} are not; {len(expected - listed)} "
        f"such records were missed"
    )
    told = notices_for(store, ours)
    kinds = Counter(n.event for n in told)
    said = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(kinds.items()))
    yield (
        f"   notices to {ours} (linkage bnl notices): {len(told)} events on people it "
        f"serves with {theirs}" + (f" ({said}), e.g." if told else "")
    )
    for line in notices_csv(told[-3:]).splitlines() if told else []:
        yield "   " + line


def _listed(path: Path) -> list[str]:
    """The record ids of a scenario's consent list."""
    return [line.strip() for line in path.read_text().splitlines()[1:] if line.strip()]


def _count_lines(
    scenario: Scenario, config: Config, uploads: Path, listed: int, true: int
) -> Iterator[str]:
    """The count three ways (the list's, the estimate from a match of the last month's
    uploads, the truth) and where an overcount comes from."""
    month = scenario.months[-1]
    paths = [upload_path(uploads, month, agency) for agency in scenario.agencies]
    loaded, _ = load_uploads(paths)
    result = Linker(config).link(loaded)
    guess = result.report.people_estimate
    truth = read_truth(scenario.truth)
    person = np.unique([truth[r] for r in loaded.records()], return_inverse=True)[1]
    th = config.thresholds
    fates = pair_fates(
        result.labels, person, result.rows_a, result.rows_b, result.scores, th.upper, th.lower
    )
    estimate = (
        f"estimated {guess['estimate']:,.0f} (90% interval {guess['low']:,.0f} to "
        f"{guess['high']:,.0f})"
        if guess
        else "no estimate (the config does not score with weights)"
    )
    yield (
        f"9. the count: the list holds {listed:,} people; a match of {month}'s uploads decides "
        f"{result.report.entities:,} and, from its probabilities, {estimate}; truly {true:,}"
    )
    yield f"   where that match's overcount comes from: {fates.sentence()}"
