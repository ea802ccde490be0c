"""The one progress type: every long stage takes a callable it tells, in one line, what it is
doing now (the CLI draws it on a terminal and drops it when piped; tests pass ``None``)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
