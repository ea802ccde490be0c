"""The canary for new releases: the development extras at their newest versions, unlocked.

CI installs the development extras from ``requirements/dev.txt``, the versions the suite was
last green with, so a release that breaks the suite cannot fail a submission that did not
cause it. This script is how the team learns of such a release before a contributor does: it
makes a fresh virtual environment in a temporary folder, installs ``.[dev]`` there without
the lock (so pip takes the newest release of everything the ranges in pyproject.toml allow),
says which packages moved against the lock, and runs the test suite there. With ``--write``
and a green suite it replaces the lock, so refreshing it is one command.

    python scripts/canary.py            # what moved, and does the suite pass with it?
    python scripts/canary.py --write    # the same, then refresh the lock if it passed

The environment is passed through, so ``LINKAGE_TEST_POSTGRES`` and the other test settings
apply as in CI. Exit status: 0 when the suite passed, 1 when it failed, 2 when the install
did.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "dev.txt"
HEADER = """\
# The development extras' whole dependency tree at the versions the test suite was last green
# with: the README's test command installs with `-c requirements/dev.txt`, and so does CI.
# The runtime dependencies in pyproject.toml stay ranges; this file pins only dev installs.
# Refresh it with `python scripts/canary.py --write` (installs the newest releases in a fresh
# virtual environment, runs the suite, and rewrites this file only if the suite passed).
"""


@dataclass(frozen=True)
class Move:
    """One package whose version differs between the lock and a fresh install (None: absent
    on that side)."""

    name: str
    locked: str | None
    newest: str | None

    def __str__(self) -> str:
        if self.locked is None:
            return f"new: {self.name} {self.newest}"
        if self.newest is None:
            return f"gone: {self.name} (was {self.locked})"
        return f"moved: {self.name} {self.locked} -> {self.newest}"


def parse_pins(text: str) -> dict[str, str]:
    """``name==version`` lines (comments and blanks ignored) by normalised project name."""
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"not a pin (name==version): {line!r}")
        pins[_normalise(name)] = version.strip()
    return pins


def moves(locked: dict[str, str], newest: dict[str, str]) -> list[Move]:
    """What changed from the lock to the fresh install, by name."""
    return [
        Move(name, locked.get(name), newest.get(name))
        for name in sorted(locked.keys() | newest.keys())
        if locked.get(name) != newest.get(name)
    ]


def _normalise(name: str) -> str:
    """PEP 503's normal form, so ``PyYAML`` and ``pyyaml`` are one package."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def _run(
    command: list[str], *, capture: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, text=True, cwd=ROOT, capture_output=capture, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="refresh the lock if green")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linkage-canary-") as tmp:
        venv = Path(tmp) / "venv"
        python = str(venv / "bin" / "python")
        if (
            _run([sys.executable, "-m", "venv", str(venv)]).returncode
            or _run([python, "-m", "pip", "install", "-q", "-e", ".[dev]"]).returncode
        ):
            print("canary: installing .[dev] at the newest versions failed (above)")
            return 2
        frozen = _run([python, "-m", "pip", "freeze", "--exclude-editable"], capture=True).stdout
        newest = parse_pins(frozen)
        changed = moves(parse_pins(LOCK.read_text()), newest)
        for move in changed:
            print(f"canary: {move}")
        if not changed:
            print("canary: nothing moved since the lock")
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        passed = _run([python, "-m", "pytest", "-q"], env=env).returncode == 0
    if not passed:
        print(f"canary: the suite fails at the newest versions; {len(changed)} package(s) moved")
        return 1
    if args.write and changed:
        part = LOCK.with_suffix(".part")
        body = "".join(f"{line}\n" for line in sorted(frozen.splitlines(), key=str.lower))
        part.write_text(HEADER + body)
        part.replace(LOCK)
        print(f"canary: the suite passed; {LOCK.relative_to(ROOT)} refreshed")
    else:
        print("canary: the suite passed at the newest versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
