"""The security boundary is a package boundary, and data flows one way through the layers.

- Every module of the coordinator's packages (``matching``, ``bynamelist``, ``service``) is
  imported in a fresh interpreter (found by walking them, so a new module is checked without
  being listed here, and no other test's imports can hide one), and nothing of ``agency`` (the
  only package that reads plaintext or holds the secret) may be loaded.
- Every ``import`` in the source is read: a package imports only the layers below it. In
  particular nothing outside ``agency`` imports it except ``cli`` (its commands) and
  ``research`` (which plays the agencies on synthetic data).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_COORDINATOR = ("linkage.matching", "linkage.bynamelist", "linkage.service")
#: Alembic loads the migration scripts by path, with its own context; they are not modules
#: to import (and hold only SQL).
_SCRIPTS = "linkage.bynamelist.store.migrations"

#: What each part of the package may import from the others (the root modules ``errors``,
#: ``progress`` and ``_atomic`` are beneath everything, and the facade ``linkage`` above
#: everything).
_BENEATH = {"errors", "progress", "_atomic"}
_MAY_IMPORT = {
    "errors": set(),
    "progress": set(),
    "_atomic": {"errors"},
    "formats": _BENEATH,
    "agency": _BENEATH | {"formats"},
    "matching": _BENEATH | {"formats"},
    "bynamelist": _BENEATH | {"formats", "matching"},
    "service": _BENEATH | {"formats", "matching", "bynamelist"},
    "research": _BENEATH | {"formats", "agency", "matching", "bynamelist", "service"},
    "cli": _BENEATH | {"formats", "agency", "matching", "bynamelist", "service", "research"},
}

_WALK = f"""
import importlib, pkgutil, sys
seen = []
for name in {_COORDINATOR!r}:
    top = importlib.import_module(name)
    seen.append(name)
    for info in pkgutil.walk_packages(top.__path__, name + "."):
        if not info.name.startswith({_SCRIPTS!r}):
            importlib.import_module(info.name)
            seen.append(info.name)
print(len(seen))
print(sorted(m for m in sys.modules if m.startswith(("linkage.agency", "linkage.research",
                                                      "linkage.cli"))))
"""


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def test_no_coordinator_module_loads_the_agency_side() -> None:
    count, loaded = _run(_WALK)
    assert int(count) >= 40  # the walk found the packages' modules, not just their roots
    assert loaded == "[]"


def test_the_check_sees_the_agency_side_when_it_is_imported() -> None:
    probe = _WALK.replace("seen = []", "seen = []\nimport linkage.agency.encoding.pipeline")
    _, loaded = _run(probe)
    assert "linkage.agency.encoding" in loaded


def _part(module: str) -> str:
    """``linkage.matching.resolve.clusters`` -> ``matching``; ``linkage`` -> ``linkage``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every linkage module a source file imports, with its line (function-level imports
    included: a lazy import crosses the boundary as surely as a top-level one)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "linkage":  # from linkage import formats
                names = [f"linkage.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return sorted((line, name) for line, name in found if name.split(".")[0] == "linkage")


def _violations() -> list[str]:
    out = []
    for path in sorted((ROOT / "linkage").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        part = _part(module)
        if part in ("__init__", "linkage"):
            continue  # the facade re-exports from every side
        for line, name in _imports(path):
            target = _part(name)
            if target in ("__version__", "__init__") or target == part:
                continue
            if target not in _MAY_IMPORT[part]:
                out.append(f"{path.relative_to(ROOT)}:{line}: {part} imports {name}")
    return out


def test_every_import_goes_down_the_layers() -> None:
    assert _violations() == []


def test_nothing_outside_agency_cli_and_research_imports_the_agency() -> None:
    for part, allowed in _MAY_IMPORT.items():
        if part not in ("agency", "cli", "research"):
            assert "agency" not in allowed, part


def test_the_layer_check_sees_a_crossing(tmp_path: Path) -> None:
    crossing = tmp_path / "crossing.py"
    crossing.write_text(
        "def load():\n    from linkage.agency.normalize import normalize_name\n"
        "from linkage import service\n"
    )
    assert _imports(crossing) == [(2, "linkage.agency.normalize"), (3, "linkage.service")]


def test_no_private_name_is_imported_across_modules() -> None:
    """A leading underscore means "this module's own": a name another module needs is
    public, and named so."""
    crossings = []
    for path in sorted((ROOT / "linkage").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("linkage"):
                crossings += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert crossings == []
