"""Resolution of scored pairs into entities (people), on the coordinator side.

Public API: :func:`cluster` (multi-party linkage and within-agency deduplication),
:func:`one_to_one` and :func:`one_to_one_labels` (the classic two-party mode), :func:`review_pairs`,
:func:`threshold_warnings`, :func:`dense_labels`, :func:`unscored_pairs` (what a merge
could weigh that blocking left out) and :func:`people_estimate` (the count
with its interval), and the ``REFUSED_*`` reasons a refused
merge is queued with. Pure functions over arrays: no file, no plaintext, no secret.
"""

from linkage.matching.resolve.band import review_pairs
from linkage.matching.resolve.clusters import (
    REFUSED_NEVER,
    REFUSED_SIZE,
    REFUSED_SUPPORT,
    Clustering,
    cluster,
    dense_labels,
    unscored_pairs,
)
from linkage.matching.resolve.diagnostics import threshold_warnings
from linkage.matching.resolve.estimate import PeopleEstimate, people_estimate
from linkage.matching.resolve.one_to_one import one_to_one, one_to_one_labels

__all__ = [
    "REFUSED_NEVER",
    "REFUSED_SIZE",
    "REFUSED_SUPPORT",
    "Clustering",
    "PeopleEstimate",
    "cluster",
    "dense_labels",
    "one_to_one",
    "one_to_one_labels",
    "people_estimate",
    "review_pairs",
    "threshold_warnings",
    "unscored_pairs",
]
