"""Names written the other way round (issue 20): encoded comparably within a config group and
seen by the model as a swap, not as two disagreeing names."""

from __future__ import annotations

import csv
import datetime as _dt

import numpy as np

from linkage.agency.encoding.encoder import Encoder
from linkage.formats.config import builtin_config_path, load_config
from linkage.matching.scoring import LEVELS, Comparisons

TODAY = _dt.date(2026, 11, 1)
LOW = len(LEVELS)
# obviously invented names
RECORDS = [
    ("Zelphine", "Quorrindale"),  # 0
    ("Quorrindale", "Zelphine"),  # 1: swapped
    ("Quorindale", "Zelphine"),  # 2: swapped, with a typo
    ("Zelphine", "Quorrindale"),  # 3: as 0
    ("Zelphine", ""),  # 4: no surname
    ("Marnevo", "Tischkant"),  # 5: someone else
]


def _levels(config_name: str) -> tuple[np.ndarray, Comparisons]:
    config = load_config(builtin_config_path(config_name))
    by_column = {
        "FirstName": [first for first, _ in RECORDS],
        "LastName": [last for _, last in RECORDS],
        "DOB": ["1984-03-07"] * len(RECORDS),
    }
    cols = [by_column.get(f.column, [""] * len(RECORDS)) for f in config.fields]
    quals = [["1"] * len(RECORDS) if f.quality_column else None for f in config.fields]
    chunk = Encoder(config, bytes(range(32)), today=TODAY).encode(cols, quals)
    comparisons = Comparisons.of(config)
    ra = np.zeros(5, np.int64)
    rb = np.arange(1, 6, dtype=np.int64)
    return comparisons.levels(chunk.field_clks, chunk.field_clks, ra, rb), comparisons


def test_a_swap_is_realigned_and_flagged() -> None:
    levels, comparisons = _levels("hmis")
    # seven fields, the first/last name swap, then each whole and its part both exact (the
    # date of birth's year and birthday, the SSN's first five and last 4)
    assert comparisons.size == 10
    first, last, swap = 0, 1, 7
    # 0 vs 1: swapped exactly: both names agree crosswise, and the swap column says so
    assert levels[0, first] == 0 and levels[0, last] <= 1 and levels[0, swap] == 0
    # 0 vs 2: a typo in the swapped surname still reads as a swap, one level down
    assert levels[1, swap] == 0 and 0 < levels[1, last] + levels[1, first] <= 3
    # 0 vs 3: the same order: not a swap
    assert levels[2, first] == levels[2, last] == 0 and levels[2, swap] == LOW
    # 0 vs 4: a name missing on one side: no swap can be judged
    assert levels[3, swap] == -1 and levels[3, last] == -1
    # 0 vs 5: strangers: low on both names, not a swap
    assert levels[4, first] == levels[4, last] == levels[4, swap] == LOW


def test_without_a_group_a_swap_reads_as_two_disagreeing_names() -> None:
    levels, comparisons = _levels("hmis-1")
    assert comparisons.size == 5
    assert levels[0, 0] == levels[0, 1] == LOW  # the swapped pair looks like strangers
    assert levels[2, 0] == levels[2, 1] == 0


def _swapped_pairs_linked(network, tmp_path, config_name: str) -> tuple[int, int, dict]:
    """(true pairs with first and last names swapped, how many of them match links, the
    model as the summary reports it) for the network encoded with ``config_name``."""
    from linkage.agency.encoding.pipeline import encode_file
    from linkage.matching import Linker, config_for, load_uploads

    config = load_config(builtin_config_path(config_name))
    paths, names = [], {}
    truth = {}
    for client in network:
        agency = client.parent.name
        paths.append(tmp_path / f"{config_name}-{agency}.clk")
        encode_file(config, bytes(range(32)), client, paths[-1], agency, today=TODAY)
        with open(client, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):  # synthetic rows, read to find the swaps
                names[agency, row["PersonalID"]] = (
                    row["FirstName"].lower(),
                    row["LastName"].lower(),
                )
    with open(network[0].parent.parent / "truth.csv", newline="") as fh:
        truth = {(r["agency"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
    uploads, headers = load_uploads(paths)
    result = Linker(config_for(headers, None)).link(uploads)
    records = uploads.records()
    swapped = linked = 0
    for a in range(len(records)):
        for b in range(a + 1, len(records)):
            (fa, la), (fb, lb) = names[records[a]], names[records[b]]
            if truth[records[a]] == truth[records[b]] and fa == lb and la == fb and fa != la:
                swapped += 1
                linked += int(result.labels[a] == result.labels[b])
    return swapped, linked, result.report.model


def test_match_links_the_pairs_whose_names_are_swapped(network, tmp_path) -> None:
    swapped, linked, model = _swapped_pairs_linked(network, tmp_path, "hmis")
    old_swapped, old_linked, _ = _swapped_pairs_linked(network, tmp_path, "hmis-1")
    assert swapped == old_swapped >= 8
    assert linked >= 0.75 * swapped > old_linked
    swap = model["fields"]["first_name/last_name swapped"]
    assert swap["exact"]["weight"] > 4.0 and abs(swap["low"]["weight"]) < 0.1
