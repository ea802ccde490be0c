"""Which of an agency's clients consented to be named to a partner, read at the agency.

Consent comes from a column of the client export (``yes`` or ``no``, any case; a blank cell
is no consent) or from a list of record ids, one a line. Either way it leaves the agency as
one byte a record in the ``.clk`` file's consent section (:mod:`linkage.formats.consent`),
beside the record's id or pseudonym: never with a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage.agency.csvfile import id_hashes
from linkage.errors import InputError

#: What a consent column may hold, compared without case or surrounding blanks.
YES, NO = "yes", "no"
#: A consent list's ids are record ids, not identifiers, but the file is still the agency's:
#: bounded so that a wrong file (an export, a binary) is refused rather than read whole.
MAX_LIST_BYTES = 1 << 28


@dataclass(frozen=True)
class ConsentList:
    """The record ids a consent list names, as the keys :func:`id_hashes` gives them."""

    path: Path
    keys: npt.NDArray[np.int64]

    def lookup(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        """The consent byte of each record whose id has the key ``keys[i]``."""
        return np.isin(keys, self.keys).astype(np.uint8)


def read_consent_list(path: Path, id_column: str) -> ConsentList:
    """Read a list of consenting record ids: one a line, blank lines ignored, and a first
    line naming the id column (or ``record_id``) taken as a header. A list with no id says
    that no client consented (the encode summary says so too)."""
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise InputError(
                f"{path}: {size:,} bytes is not a list of record ids",
                "give --consent-ids a file with one record id a line",
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such consent list") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the consent list is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the consent list ({exc.strerror})") from None
    ids: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or (number == 1 and line in (id_column, "record_id")):
            continue
        if "," in line:
            raise InputError(
                f"{path}:{number}: a consent list holds one record id a line, no commas",
                "list the consenting clients' record ids only",
            )
        ids.append(line)
    return ConsentList(path, np.unique(id_hashes(ids)))


def consent_bytes(cells: list[str]) -> npt.NDArray[np.uint8]:
    """A consent column's cells (already checked to be yes, no or blank) as consent bytes."""
    return np.fromiter((c.strip().lower() == YES for c in cells), np.uint8, len(cells))


def consent_codes() -> frozenset[str]:
    """The cells a consent column may hold, as the CSV reader checks codes: yes and no in
    the usual cases, and blank (no consent recorded)."""
    words = {w for word in (YES, NO) for w in (word, word.upper(), word.capitalize())}
    return frozenset({*words, ""})
