"""The coordinator side imports nothing that can read plaintext or a secret.

Every module of the coordinator's packages is imported (found by walking them, so a new
module is checked without being listed here) in a fresh interpreter, so that modules other
tests imported do not hide a new import.
"""

from __future__ import annotations

import subprocess
import sys

_COORDINATOR = (
    "linkage.match",
    "linkage.compare",
    "linkage.resolve",
    "linkage.bynamelist",
    "linkage.coordinator",
)
_AGENCY_SIDE = ("linkage.encoding", "linkage.normalize", "linkage.ingest", "linkage.evaluate")
#: Alembic loads the migration scripts by path, with its own context; they are not modules
#: to import (and hold only SQL).
_SCRIPTS = "linkage.bynamelist.migrations"

_WALK = f"""
import importlib, pkgutil, sys
seen = []
for name in {_COORDINATOR!r}:
    top = importlib.import_module(name)
    seen.append(name)
    for info in pkgutil.walk_packages(getattr(top, "__path__", []), name + "."):
        if not info.name.startswith({_SCRIPTS!r}):
            importlib.import_module(info.name)
            seen.append(info.name)
print(len(seen))
print(sorted(m for m in sys.modules if m.startswith({_AGENCY_SIDE!r})))
"""


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def test_no_coordinator_module_imports_the_agency_side() -> None:
    count, loaded = _run(_WALK)
    assert int(count) >= 40  # the walk found the packages' modules, not just their roots
    assert loaded == "[]"


def test_the_check_sees_the_agency_side_when_it_is_imported() -> None:
    probe = _WALK.replace("seen = []", "seen = []\nimport linkage.encoding.pipeline")
    _, loaded = _run(probe)
    assert "linkage.encoding" in loaded
