"""The household section: which household each record's client was last enrolled in.

HMIS gives every enrollment a ``HouseholdID`` (shared by the people who entered together) and
each member's ``RelationshipToHoH``. An agency sends, per record, a keyed pseudonym of the
household of the client's latest enrollment and whether the client heads it, in the optional
``household`` section, 9 bytes a record::

    u64 household pseudonym (0: no household known) | u8 1 for the head of household, else 0

The pseudonym is an HMAC of the ``HouseholdID`` under a key derived from the community secret
and the agency's name, cut to 63 bits and never 0 (:mod:`linkage.agency.encoding.keys`): the
coordinator can tell two records of one agency's household apart from those of another, and
nothing more. A household id is agency-local, so the coordinator joins households across
agencies through the people in them (:mod:`linkage.bynamelist.households`).

Shared by both sides, like :mod:`linkage.formats.container`: nothing here reads plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: The container section's name and width.
HOUSEHOLD = "household"
WIDTH = 9
#: The pseudonym's bits: positive in a signed 64-bit column, so the store keeps it as is.
PSEUDONYM_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class Memberships:
    """A section's records as columns."""

    household: npt.NDArray[np.int64]  # the pseudonym; 0: none known
    head: npt.NDArray[np.bool_]


def pack(household: npt.NDArray[np.int64], head: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """The section payload: ``(n, WIDTH)`` bytes."""
    out = np.zeros((len(household), WIDTH), np.uint8)
    out[:, :8] = np.ascontiguousarray(household, "<i8").view(np.uint8).reshape(-1, 8)
    out[:, 8] = head
    return out


def unpack(section: npt.NDArray[np.uint8]) -> Memberships:
    """Columns of a ``(n, WIDTH)`` section (bad bytes are :func:`check`'s to report)."""
    household = np.ascontiguousarray(section[:, :8]).view("<i8").reshape(-1).astype(np.int64)
    return Memberships(household, section[:, 8] == 1)


def check(section: npt.NDArray[np.uint8]) -> str | None:
    """Why a section cannot be right, or None: a head byte other than 0 and 1, a pseudonym
    outside 63 bits (the encoder never writes one), or a head of no household."""
    if not section.size:
        return None
    if int(section[:, 8].max()) > 1:
        return "head-of-household bytes other than 0 and 1"
    household = np.ascontiguousarray(section[:, :8]).view("<i8").reshape(-1)
    if bool(np.any(household < 0)):
        return "household pseudonyms outside 63 bits"
    if bool(np.any((household == 0) & (section[:, 8] == 1))):
        return "heads of no household"
    return None
