"""Which pairs a person should look at: nothing in the review band is decided silently."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def review_pairs(
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    labels_a: npt.NDArray[np.int64],
    labels_b: npt.NDArray[np.int64],
    upper: float,
    lower: float,
) -> npt.NDArray[np.int64]:
    """Indices of the pairs scoring in [lower, upper) whose records ended in different
    entities (``labels_a[rows_a]`` vs ``labels_b[rows_b]``), best score first. A band pair
    already joined through other links needs no review."""
    band = (scores >= lower) & (scores < upper)
    apart = labels_a[rows_a] != labels_b[rows_b]
    chosen = np.flatnonzero(band & apart)
    return chosen[np.lexsort((rows_b[chosen], rows_a[chosen], -scores[chosen]))]
