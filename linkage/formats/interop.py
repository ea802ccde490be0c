"""Interoperability with clkhash and anonlink: their ``{"clks": [base64, ...]}`` JSON.

Both use big-endian bit order within bytes, as ``numpy.packbits`` does, so the bytes are written
unchanged. Field-level filters and record ids have no place in that format and are left out.
"""

from __future__ import annotations

import base64
from pathlib import Path

from linkage._atomic import atomic_write
from linkage.formats.container import CLKS, ClkReader


def export_anonlink_json(path: Path, output: Path) -> int:
    """Stream the record-level filters of ``path`` into ``output``; return how many."""
    n = 0
    with atomic_write(output) as fh:
        fh.write(b'{"clks": [')
        for block in ClkReader(path):
            for row in block.sections[CLKS]:
                fh.write((b", " if n else b"") + b'"' + base64.b64encode(row.tobytes()) + b'"')
                n += 1
        fh.write(b"]}\n")
    return n
