"""Activity attributes: what the by-name list needs to know about a record besides who it is.

An agency derives them locally from its HMIS export (:mod:`linkage.agency.hmis.enrollments`) and
sends them in the optional ``activity`` section of the ``.clk`` container, 7 bytes a record::

    u32 last activity (days since 1970-01-01; 0: no activity known) | u8 situation
    | u8 project type (255: none) | u8 population flags

No identifier is among them, but they are sensitive; they travel only inside the container and
the coordinator keeps them only in its store. This module is shared by both sides, like
:mod:`linkage.formats.container`, so it must not import anything that reads plaintext or secrets.
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: The container section's name and width.
ACTIVITY = "activity"
WIDTH = 7
#: Header ``extra`` key: the day the activity was taken (ISO date), which ages are counted at.
AS_OF = "activity_as_of"
NO_PROJECT = 255
_EPOCH = _dt.date(1970, 1, 1).toordinal()


class Situation(enum.IntEnum):
    """Where the person was at their latest situation-bearing event (HUD living situation and
    destination families, docs/hmis.md)."""

    UNKNOWN = 0
    HOMELESS = 1  # 1xx: emergency shelter, place not meant for habitation, safe haven
    INSTITUTION = 2  # 2xx
    TEMPORARY = 3  # 3xx
    HOUSED = 4  # 4xx
    DECEASED = 5  # 24


class Flag(enum.IntFlag):
    """Populations a record places its person in, as the agency can tell."""

    VETERAN = 1
    YOUTH = 2  # under 25 on the activity date
    FAMILY = 4  # in a household with a child of the head of household
    CHRONIC = 8  # HUD chronic homelessness at the latest entry


ALL_FLAGS = int(Flag.VETERAN | Flag.YOUTH | Flag.FAMILY | Flag.CHRONIC)


@dataclass(frozen=True)
class Activity:
    """One record's attributes, unpacked."""

    last_activity: _dt.date | None
    situation: Situation
    project_type: int | None
    flags: Flag


def _days(day: _dt.date | None) -> int:
    return 0 if day is None else day.toordinal() - _EPOCH


def pack(activities: list[Activity]) -> npt.NDArray[np.uint8]:
    """The section payload for these records: ``(n, WIDTH)`` bytes."""
    out = np.zeros((len(activities), WIDTH), np.uint8)
    days = np.array(
        [_days(a.last_activity) for a in activities],
        "<u4",
    )
    out[:, :4] = days.view(np.uint8).reshape(-1, 4)
    out[:, 4] = [int(a.situation) for a in activities]
    out[:, 5] = [NO_PROJECT if a.project_type is None else a.project_type for a in activities]
    out[:, 6] = [int(a.flags) for a in activities]
    return out


@dataclass(frozen=True)
class Columns:
    """A section's records as columns: what the coordinator computes statuses from."""

    last_activity: npt.NDArray[np.int64]  # proleptic Gregorian ordinal; 0: none known
    situation: npt.NDArray[np.uint8]
    project_type: npt.NDArray[np.uint8]
    flags: npt.NDArray[np.uint8]


def unpack(section: npt.NDArray[np.uint8]) -> Columns:
    """Columns of a ``(n, WIDTH)`` section; codes outside the enums are reported by
    :func:`check`, not here."""
    raw = np.ascontiguousarray(section[:, :4]).view("<u4").reshape(-1).astype(np.int64)
    days = np.where(raw > 0, raw + _EPOCH, 0)
    return Columns(
        last_activity=days,
        situation=section[:, 4].copy(),
        project_type=section[:, 5].copy(),
        flags=section[:, 6].copy(),
    )


def check(columns: Columns, as_of: _dt.date | None = None) -> str | None:
    """Why a section cannot be right (a code no version of linkage writes, a day after the
    export's ``as_of``, which the encoder leaves out, or past any calendar), or None."""
    latest = (as_of or _dt.date.max).toordinal()
    if columns.last_activity.size and int(columns.last_activity.max()) > latest:
        return "activity dated after the export's as-of day"
    if columns.situation.size and int(columns.situation.max()) > max(Situation):
        return "an unknown situation code"
    if columns.flags.size and int(columns.flags.max()) & ~ALL_FLAGS:
        return "unknown population flags"
    return None


def to_date(ordinal: int) -> _dt.date | None:
    """The date of an ordinal from :class:`Columns` (None for 0)."""
    return _dt.date.fromordinal(ordinal) if ordinal else None
