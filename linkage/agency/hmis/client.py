"""HUD HMIS CSV exports: recognising a ``Client.csv`` and its specification year.

FY2024 and FY2026 differ in the columns an encoder cares about only by ``Sex`` (FY2026 only);
gender identity (FY2024's Woman/Man/...) is not sex and is never used in its place, so in an
FY2024 file the sex field is simply missing and adds no bits.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from linkage.agency.hmis.spec import CLIENT_SIGNATURE, QUALITY_CODES, QUALITY_COLUMNS


def looks_like_client_csv(header: Sequence[str]) -> bool:
    """Whether a header is an HMIS Client.csv (perhaps with columns missing, which the reader
    then names), so that the built-in HMIS config applies by default."""
    return {"PersonalID", "FirstName", "LastName"} <= set(header)


def detect_version(header: Sequence[str]) -> str | None:
    """``"FY2026"``, ``"FY2024"``, or None when the header is not an HMIS Client.csv."""
    columns = {h.strip() for h in header}
    if not all(c in columns for c in CLIENT_SIGNATURE):
        return None
    if "Sex" in columns or "HispanicLatinao" in columns:
        return "FY2026"
    if "Woman" in columns or "HispanicLatinaeo" in columns:
        return "FY2024"
    return None


def read_header(path: Path) -> list[str]:
    """The header row of a CSV file (empty when unreadable; the reader reports why later)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 20).decode("utf-8-sig", errors="replace")
        return [h.strip() for h in next(csv.reader([first]), [])]
    except (OSError, csv.Error):
        return []


def quality_codes(columns: Sequence[str]) -> dict[str, frozenset[str]]:
    """Allowed values of the HMIS data-quality columns among ``columns``."""
    return {c: QUALITY_CODES for c in columns if c in QUALITY_COLUMNS or c.endswith("DataQuality")}
