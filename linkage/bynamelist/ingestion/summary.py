"""What an ingest did, in counts only: the report a caller prints and the service keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class IngestSummary:
    """What an ingest did, in counts only."""

    month: str
    files: list[dict[str, Any]] = field(default_factory=list)
    new_people: int = 0
    merges: int = 0
    records: int = 0
    people: int = 0
    review: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
