"""`pip install .` (the README's first command) installs every package the code imports.

setuptools is given the package list by hand (the configs folder is mapped into the package),
and a package missing from it installs fine and fails only at import on a user's machine:
linkage.resolve was missing for two issues while the editable install used by the tests hid it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_for_setuptools() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "linkage").rglob("__init__.py")
    }
    assert found, "no packages found"
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found - {"linkage.configs"} == set()
