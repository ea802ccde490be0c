"""Atomic file output: write to a temporary file beside the target, then rename.

A crash, a kill or an error half-way never leaves a partial output file behind, and never
destroys a previous good one; an output is never one of the command's own inputs.
"""

from __future__ import annotations

import fcntl
import glob
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from linkage.errors import InputError


def refuse_overwrite(output: Path, inputs: Iterable[Path | None], what: str = "input") -> None:
    """Refuse an ``output`` that is a folder or the same file as one of ``inputs`` (by
    resolved path, and by device and inode, so a hard link or another spelling of the
    path is caught too): replacing an input would destroy what the command reads, the
    community secret or an agency's export among them."""
    output = Path(output)
    if output.is_dir():
        raise InputError(f"{output} is a folder", "give a file name for the output")
    here = _identity(output)
    for given in inputs:
        if given is None:
            continue
        there = _identity(Path(given))
        if output.resolve() == Path(given).resolve() or (here is not None and here == there):
            raise InputError(
                f"the output {output} is the {what} {given}",
                "give another output path; nothing was written",
            )


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


@contextmanager
def atomic_write(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only if the block finishes without error.

    The part file is locked while it is written, so the part files of a writer that was
    killed (which nothing could delete) are recognised by the next writer of the same path,
    unlocked, and removed; a live writer's part file is left alone."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder", "give a file name for the output")
    directory = path.parent if str(path.parent) else Path(".")
    _remove_abandoned_parts(directory, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)  # before the lock goes with the file's closing
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: A part file younger than this may be one whose writer has not locked it yet.
_ABANDONED_AFTER = 60.0


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically: a CSV a command writes whole."""
    with atomic_write(path) as fh:
        fh.write(text.encode("utf-8"))


def _remove_abandoned_parts(directory: Path, name: str) -> None:
    for part in directory.glob(f".{glob.escape(name)}.*.part"):
        try:
            if time.time() - part.stat().st_mtime < _ABANDONED_AFTER:
                continue
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a writer holds it
        else:
            with suppress(FileNotFoundError):
                part.unlink()
        finally:
            os.close(fd)
