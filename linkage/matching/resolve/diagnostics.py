"""Warnings that the thresholds do not suit the encodings, from the score distribution alone.

No ground truth is needed: with good thresholds, true pairs pile up near 1, unrelated pairs
near the candidate floor, and the upper threshold sits in the trough between them. Dense
filters (many bits set) raise every Dice score, sparse ones lower true pairs' scores
(anonlink's published evaluation saw precision fall to 0.70 on dense filters once unrelated
records were added), so the mean filter density is checked as well.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Half-width of the window around the upper threshold that must not be crowded.
WINDOW = 0.025
#: Below this many pairs, a distribution says nothing.
MIN_PAIRS = 50
DENSE = 0.6
SPARSE = 0.1


def threshold_warnings(
    scores: npt.NDArray[np.float64], upper: float, lower: float, density: float
) -> list[str]:
    """Plain-language warnings (empty when nothing looks wrong)."""
    out: list[str] = []
    if density > DENSE:
        out.append(
            f"filters are dense ({density:.0%} of bits set): unrelated records score high, "
            "so the thresholds must be high too; check them on synthetic data"
        )
    elif 0 < density < SPARSE:
        out.append(
            f"filters are sparse ({density:.0%} of bits set): true pairs may score low; "
            "check the config's token weights"
        )
    if len(scores) < MIN_PAIRS:
        return out
    links = int(np.count_nonzero(scores >= upper))
    band = int(np.count_nonzero((scores >= lower) & (scores < upper)))
    if links == 0:
        out.append(f"no pair reached the upper threshold {upper}: it is probably too high")
        return out
    if band > links:
        out.append(
            f"more pairs in the review band ({band:,}) than automatic links ({links:,}): "
            "the thresholds may be too high for these encodings"
        )
    near = int(np.count_nonzero(np.abs(scores - upper) < WINDOW))
    span = 1.0 - (upper + WINDOW)
    above = int(np.count_nonzero(scores >= upper + WINDOW))
    if span > 0 and near >= MIN_PAIRS and near / (2 * WINDOW) > above / span:
        out.append(
            f"the upper threshold {upper} sits where scores are dense ({near:,} pairs within "
            f"{WINDOW} of it, more per unit than above it): many links hinge on small score "
            "differences; consider moving it"
        )
    return out
