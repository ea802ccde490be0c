"""What the CLI's command modules share: example epilogs, progress bars, the --db option."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


def example(*lines: str) -> str:
    """An epilog that click prints verbatim (the \\b marker stops it from rewrapping)."""
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)


def progress_bar(enabled: bool, label: str) -> Any:
    """A tqdm bar on a terminal, nothing when piped or quiet."""
    from tqdm import tqdm

    return tqdm(
        total=0,
        unit="B",
        unit_scale=True,
        desc=label,
        leave=False,
        disable=not enabled or not sys.stderr.isatty(),
    )


_DB_HELP = (
    "The store: a file path (SQLite) or a URL such as postgresql://host/db. Or set LINKAGE_BNL_DB."
)


def db_option(f: Any) -> Any:
    return click.option(
        "--db",
        envvar="LINKAGE_BNL_DB",
        default="bynamelist.db",
        show_default=True,
        help=_DB_HELP,
    )(f)


def refuse_over_store(output: Path, db: str) -> None:
    """An output never replaces the store itself (a SQLite file named by path)."""
    from linkage._atomic import refuse_overwrite

    refuse_overwrite(output, [None if "://" in db else Path(db)], "store")
