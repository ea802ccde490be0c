"""Installs by role: the agency's install (``pip install linkage``) runs the agency's commands
with none of the coordinator's or the researcher's extras, and a command that needs an extra
says which one in one line.

A real venv per role is made by ``.ci/run``; here the extras are hidden from a fresh
interpreter instead (an import hook that finds none of them), which is fast enough for
every run of the suite and fails the same way a missing install would.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from linkage.formats.container import read_clk

ROOT = Path(__file__).resolve().parents[1]


def _extra_modules() -> list[str]:
    """The top-level import names the coordinator and research extras bring (for these
    projects the import name is the project name)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = set()
    for requirement in [*extras["coordinator"], *extras["research"]]:
        name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
        if name != "linkage":
            names.add(name.lower().replace("-", "_"))
    return sorted(names)


_HIDE = """
import sys
from importlib.abc import MetaPathFinder

HIDDEN = {hidden!r}

class Hidden(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Hidden())
"""


def _agency_install(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``linkage ARGS`` in a fresh interpreter that cannot import any extra."""
    script = _HIDE.format(hidden=_extra_modules()) + (
        f"sys.argv = ['linkage', *{list(args)!r}]\nfrom linkage.cli import main\nmain()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_the_extras_are_what_the_coordinator_needs() -> None:
    hidden = _extra_modules()
    assert {"numba", "sqlalchemy", "fastapi", "faker", "recordlinkage"} <= set(hidden)
    assert not {"numpy", "cryptography", "click", "httpx"} & set(hidden)


def test_the_agency_install_keygens_and_encodes(network: list[Path], tmp_path: Path) -> None:
    keygen = _agency_install("keygen", "-o", "community.key", cwd=tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    encode = _agency_install(
        "encode",
        str(network[0]),
        "--secret-file",
        "community.key",
        "--agency",
        "north",
        "-o",
        "north.clk",
        cwd=tmp_path,
    )
    assert encode.returncode == 0, encode.stderr
    clk = read_clk(tmp_path / "north.clk")
    rows = sum(1 for _ in network[0].open()) - 1
    assert clk.header.agency == "north" and len(clk.ids) == rows
    shown = _agency_install("inspect", "north.clk", cwd=tmp_path)
    assert shown.returncode == 0 and "north" in shown.stdout, shown.stderr


def test_the_agency_install_lists_every_command(tmp_path: Path) -> None:
    shown = _agency_install("--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for command in ("encode", "upload", "results", "match", "bnl", "evaluate", "demo"):
        assert re.search(rf"^  {command}\s", shown.stdout, re.M), command


def test_a_command_whose_extra_is_missing_names_it(tmp_path: Path) -> None:
    for args, extra in [
        (("match", "a.clk", "b.clk", "-o", "out"), "coordinator"),
        (("bnl", "init", "--db", "list.db"), "coordinator"),
        (("synth", "net"), "research"),
    ]:
        done = _agency_install(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pip install 'linkage[{extra}]'" in lines[0], lines
    assert not (tmp_path / "list.db").exists() and not (tmp_path / "net").exists()


def test_the_facade_serves_each_install_what_it_has() -> None:
    import linkage

    for name in linkage.__all__:
        assert getattr(linkage, name) is not None, name
    script = _HIDE.format(hidden=_extra_modules()) + (
        "import linkage\n"
        "assert callable(linkage.encode_file) and callable(linkage.read_secret)\n"
        "try:\n"
        "    linkage.Linker\n"
        "except ModuleNotFoundError:\n"
        "    print('no coordinator')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "no coordinator", done.stderr
