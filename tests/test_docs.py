"""The code cites only documents a reader of the repository can open, and the architecture
page shows the layout as built."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_document_the_code_cites_is_in_the_repository() -> None:
    missing = []
    for folder in ("linkage", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in re.findall(r"[\w./-]+\.md\b", path.read_text()):
                if not any((base / name).is_file() for base in (ROOT, ROOT / "docs")):
                    missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == []


def test_the_architecture_page_names_every_package() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    packages = sorted(
        init.parent.name
        for init in (ROOT / "linkage").glob("*/__init__.py")
        if init.parent.name != "configs"
    )
    assert packages, "no packages found"
    assert [p for p in packages if f"  {p}/" not in page] == []
