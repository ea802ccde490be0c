"""The consent section: which records' clients agreed to be named to a partner agency.

An agency marks the clients who consented to sharing (``linkage encode --consent-column`` or
``--consent-ids``); the ``.clk`` container carries one byte a record, 1 for consent and 0 for
none, in the optional ``consent`` section. The coordinator keeps each record's latest flag
and names a record to a partner (a joint-participant list, a notice) only where it is 1 and
an agreement covers both agencies. An upload without the section consents to nothing, so a
later upload without consent withdraws it from that month on.

Shared by both sides, like :mod:`linkage.formats.container`: nothing here reads plaintext.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: The container section's name and width.
CONSENT = "consent"
WIDTH = 1


def check(section: npt.NDArray[np.uint8]) -> str | None:
    """Why a consent section cannot be right (a byte other than 0 and 1), or None."""
    if section.size and int(section.max()) > 1:
        return "consent bytes other than 0 and 1"
    return None


def consented(section: npt.NDArray[np.uint8] | None, n: int) -> npt.NDArray[np.bool_]:
    """Each of ``n`` records' consent (none without a section)."""
    if section is None:
        return np.zeros(n, np.bool_)
    return np.asarray(section.reshape(-1) == 1, np.bool_)
