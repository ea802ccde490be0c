"""The coordinator's engine: encoded records in, entities out; no plaintext, no secret.

Public API: :func:`load_uploads` (read and cross-check ``.clk`` files into :class:`Uploads`)
and :func:`config_for`; the :class:`Linker`, whose stages return :class:`Candidates`,
:class:`Scored` and :class:`MatchResult` (with its :class:`MatchSummary`); and
:func:`run_match`, ``linkage match``'s run from files to an output folder.

Inside: ``candidates/`` (the Dice kernel, its reference, blocking), ``scoring`` (the
Fellegi-Sunter model), ``resolve/`` (pairs to entities, the people estimate), ``linker`` (the
stages in order), ``uploads`` and ``outputs`` (files in and out).
"""

from linkage.matching.linker import (
    Candidates,
    Linker,
    MatchResult,
    MatchSummary,
    PairScorer,
    Scored,
    comparison_names,
)
from linkage.matching.outputs import OUTPUT_FILES, entity_ids, run_match
from linkage.matching.uploads import Uploads, config_for, load_uploads, read_uploads

__all__ = [
    "OUTPUT_FILES",
    "Candidates",
    "Linker",
    "MatchResult",
    "MatchSummary",
    "PairScorer",
    "Scored",
    "Uploads",
    "comparison_names",
    "config_for",
    "entity_ids",
    "load_uploads",
    "read_uploads",
    "run_match",
]
