"""Comparison of encodings on the coordinator side.

Public API: :func:`dice_candidates` (the fast kernel) and :func:`dice_candidates_reference`
(its numpy reference, for tests and small inputs). Nothing here can read plaintext or a secret.
"""

from linkage.compare.kernel import dice_candidates
from linkage.compare.reference import dice_candidates_reference

__all__ = ["dice_candidates", "dice_candidates_reference"]
