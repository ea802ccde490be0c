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

import numpy as np

from linkage.agency.encoding.keys import read_secret, write_secret
from linkage.bynamelist import build_report, create_store
from linkage.bynamelist.report import render_text
from linkage.formats.config import Config, builtin_config_path, load_config
from linkage.formats.summary import summarize
from linkage.matching import Linker, load_uploads
from linkage.research.datasets import read_truth
from linkage.research.evaluation.fates import pair_fates
from linkage.research.evaluation.longitudinal import run_scenario, upload_path
from linkage.research.synthetic.scenario import Scenario, write_scenario

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
    last = scores[-1]
    quality = last.linkage
    yield (
        f"7. against the truth: linkage precision {quality.precision:.3f}, recall "
        f"{quality.recall:.3f}, F1 {quality.f1:.3f}; {quality.entities} people found for "
        f"{quality.true_entities} real ({quality.count_error:+.1%}); statuses right for "
        f"{last.statuses_right} of {len(last.exact)} people the list holds exactly"
    )
    yield from _count_lines(scenario, config, uploads, quality.entities, quality.true_entities)
    yield (
        f"done: exports in {scenario.folder}, uploads in {uploads}; see the list with "
        f"'linkage bnl report --db {db}'"
    )


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
        f"8. the count: the list holds {listed:,} people; a match of {month}'s uploads decides "
        f"{result.report.entities:,} and, from its probabilities, {estimate}; truly {true:,}"
    )
    yield f"   where that match's overcount comes from: {fates.sentence()}"
