"""The coordinator side imports nothing that can read plaintext or a secret (architecture.md).

Checked in a fresh interpreter, so that modules other tests imported do not hide a new import.
"""

from __future__ import annotations

import subprocess
import sys

_COORDINATOR = ["linkage.match", "linkage.compare", "linkage.resolve", "linkage.bynamelist"]
_AGENCY_SIDE = ("linkage.encoding", "linkage.normalize", "linkage.ingest", "linkage.evaluate")


def test_coordinator_modules_do_not_import_the_agency_side() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in _COORDINATOR)
        + f"print(sorted(m for m in sys.modules if m.startswith({_AGENCY_SIDE!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # the check can fail: the agency side does show up when imported
    probe = code.replace("import sys\n", "import sys\nimport linkage.encoding.pipeline\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "linkage.encoding" in out.stdout
