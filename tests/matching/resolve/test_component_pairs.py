"""The pairs a merge weighs that blocking never reached (issue 20): scored under the run's
model before the merges, on a network large enough for blocking to leave some out."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.agency.encoding.pipeline import encode_file
from linkage.formats.config import load_config
from linkage.matching import Linker, config_for, load_uploads
from linkage.research.synthetic.exports import write_network

TODAY = _dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("components")
    config = load_config("hmis")
    paths = []
    for client in write_network(out / "network", people=2000, agencies=4, seed=11):
        paths.append(out / f"{client.parent.name}.clk")
        encode_file(config, bytes(range(32)), client, paths[-1], client.parent.name, today=TODAY)
    return paths


def test_the_pairs_blocking_missed_inside_a_person_are_scored_before_the_merges(
    uploads: list[Path],
) -> None:
    """The merges weigh every pair inside a component of strong pairs, so those blocking
    never reached are scored too, under the run's one model, and come out with the rest."""
    loaded, headers = load_uploads(uploads)
    config = config_for(headers, None)
    found = Linker(config).find(loaded)
    ra, rb = found.rows_a, found.rows_b
    scored = Linker(config).score(loaded, found)
    scores, scorer = scored.scores, scored.scorer
    assert scorer is not None
    # the scorer is the fitted model: the candidates rescored come out as scored
    assert np.allclose(scorer(ra, rb), scores)
    part = np.array([5, 9, 2], np.int64)
    assert np.allclose(
        scorer.through(part)(np.array([0]), np.array([2])), scorer(part[:1], part[2:])
    )
    result = Linker(config).link(loaded)
    found = set(zip(ra.tolist(), rb.tolist(), strict=True))
    extra = [
        p
        for p, pair in enumerate(zip(result.rows_a.tolist(), result.rows_b.tolist(), strict=True))
        if pair not in found
    ]
    assert len(extra) == result.report.component_pairs > 0
    ea, eb = result.rows_a[extra], result.rows_b[extra]
    assert np.allclose(result.scores[extra], scorer(ea, eb))
    # each lies inside one component of the strong pairs, which the entities never cross
    strong = scores >= config.thresholds.upper
    n = len(loaded.ids)
    edges = (np.ones(int(strong.sum())), (ra[strong], rb[strong]))
    _, component = connected_components(coo_matrix(edges, (n, n)), directed=False)
    assert np.all(component[ea] == component[eb])
