"""`pip install .` (the README's first command) installs every package the code imports.

setuptools is given the package list by hand (the configs folder is mapped into the package),
and a package missing from it installs fine and fails only at import on a user's machine:
linkage.resolve was missing for two issues while the editable install used by the tests hid it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

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


@functools.cache
def _canary() -> ModuleType:
    """scripts/canary.py, which is a script and no package, loaded by path."""
    spec = importlib.util.spec_from_file_location("canary", ROOT / "scripts" / "canary.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up by name
    spec.loader.exec_module(module)
    return module


def _name(requirement: str) -> str:
    """The project name of a PEP 508 requirement, normalised as the canary does."""
    bare = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
    return str(_canary()._normalise(bare))


def _expanded(extras: dict[str, list[str]], extra: str) -> list[str]:
    """An extra's requirements with its ``linkage[...]`` references to other extras followed
    (dev installs all, all installs coordinator, research and postgres)."""
    out = []
    for requirement in extras[extra]:
        inner = re.fullmatch(r"linkage\[([a-z,]+)\]", requirement)
        if inner is None:
            out.append(requirement)
        else:
            for name in inner.group(1).split(","):
                out.extend(_expanded(extras, name))
    return out


def test_the_lock_pins_every_dependency_of_the_dev_install() -> None:
    """The README's test command installs with the lock; a requirement it does not pin would
    float to its newest release on a new contributor's machine, as pytest did."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *_expanded(extras, "dev")]
    wanted = {_name(requirement) for requirement in requirements} - {"linkage"}
    pinned = _canary().parse_pins((ROOT / "requirements" / "dev.txt").read_text())
    assert wanted - pinned.keys() == set(), "refresh the lock: python scripts/canary.py --write"


def test_the_readme_test_command_installs_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[dev]' -c requirements/dev.txt && python -m pytest" in readme


def test_the_canary_names_what_moved() -> None:
    canary = _canary()
    locked = canary.parse_pins("# a comment\npytest==9.0.3\nPyYAML==6.0\nold-thing==1.0\n")
    newest = canary.parse_pins("pytest==9.2.0\npyyaml==6.0\nfresh_thing==0.1  # why\n")
    assert [str(move) for move in canary.moves(locked, newest)] == [
        "new: fresh-thing 0.1",
        "gone: old-thing (was 1.0)",
        "moved: pytest 9.0.3 -> 9.2.0",
    ]


def test_the_canary_refuses_a_line_that_is_not_a_pin() -> None:
    with pytest.raises(ValueError, match="not a pin"):
        _canary().parse_pins("pytest>=8\n")


def test_numba_caches_its_kernels_outside_the_installed_package(tmp_path: Path) -> None:
    """numba's default, beside the source, is site-packages after 'pip install .': the files
    it leaves there outlive an uninstall and shadow a later editable install."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import linkage.matching.candidates, numba; print(numba.config.CACHE_DIR)",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert shown.stdout.strip() == str(tmp_path / "linkage" / "numba")
