"""``linkage match``'s outputs: a run over uploaded ``.clk`` files, written to a folder.

``entities.csv`` (every record and its entity), ``review.csv`` (pairs for a person to decide,
with why) and ``summary.json`` (the run in counts only), each written whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage._atomic import atomic_write
from linkage.errors import InputError
from linkage.matching.linker import Linker, MatchResult, MatchSummary
from linkage.matching.uploads import Uploads, config_for, load_uploads
from linkage.progress import Progress

#: What ``linkage match`` writes into its output folder.
OUTPUT_FILES = ("entities.csv", "review.csv", "summary.json")


def run_match(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    config_path: Path | None = None,
    one_to_one_mode: bool = False,
    progress: Progress | None = None,
    work_dir: Path | None = None,
) -> MatchSummary:
    """Link and deduplicate the uploads in ``paths``; write the results into ``out_dir``
    (with ``work_dir``, the uploads' filters are kept in files in a folder made there, and
    removed with it, instead of in memory)."""
    started = time.perf_counter()
    if one_to_one_mode and len(paths) != 2:
        raise InputError(
            f"--one-to-one links exactly two files; {len(paths)} were given",
            "drop --one-to-one to link and deduplicate any number of agencies",
        )
    if progress:
        progress(f"reading {len(paths)} upload(s)")
    with ExitStack() as stack:
        spill = None
        if work_dir is not None:
            spill = Path(stack.enter_context(_spill_folder(work_dir)))
        uploads, headers = load_uploads(paths, spill)
        config = config_for(headers, config_path)
        result = Linker(config, one_to_one_mode, progress).link(uploads)
        out_dir.mkdir(parents=True, exist_ok=True)
        entities, review, summary = (out_dir / name for name in OUTPUT_FILES)
        _write_entities(entities, uploads, result.labels)
        _write_review(review, uploads, result)
    report = result.report
    report.seconds = round(time.perf_counter() - started, 3)
    with atomic_write(summary) as fh:
        fh.write(json.dumps(asdict(report), indent=2).encode() + b"\n")
    return report


def _spill_folder(work_dir: Path) -> tempfile.TemporaryDirectory[str]:
    """A folder of this run's own under ``work_dir``, removed when the run ends."""
    try:
        return tempfile.TemporaryDirectory(dir=work_dir, prefix="linkage-match-")
    except OSError as exc:
        raise InputError(
            f"--work-dir {work_dir}: cannot make a folder there ({exc.__class__.__name__})",
            "give an existing folder you may write to, on a disk with room for the filters",
        ) from None


def entity_ids(labels: npt.NDArray[np.int64]) -> list[str]:
    """``E`` and a zero-padded number: sortable, and meaningless outside this run."""
    width = max(6, len(str(int(labels.max()) + 1))) if len(labels) else 6
    return [f"E{label + 1:0{width}d}" for label in labels.tolist()]


def _write_entities(path: Path, uploads: Uploads, labels: npt.NDArray[np.int64]) -> None:
    with atomic_write(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        w = csv.writer(text, lineterminator="\n")
        w.writerow(["agency", "record_id", "entity_id"])
        w.writerows(
            (agency, rid, entity)
            for (agency, rid), entity in zip(uploads.records(), entity_ids(labels), strict=True)
        )
        text.flush()
        text.detach()


def _write_review(path: Path, uploads: Uploads, result: MatchResult) -> None:
    ra, rb, scores = result.rows_a, result.rows_b, result.scores
    with atomic_write(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        w = csv.writer(text, lineterminator="\n")
        w.writerow(["agency_a", "record_id_a", "agency_b", "record_id_b", "score", "reason"])
        for p, reason in zip(result.review.tolist(), result.review_reasons, strict=True):
            i, j = int(ra[p]), int(rb[p])
            w.writerow(
                [
                    uploads.agencies[uploads.party[i]],
                    uploads.ids[i],
                    uploads.agencies[uploads.party[j]],
                    uploads.ids[j],
                    f"{scores[p]:.4f}",
                    reason,
                ]
            )
        text.flush()
        text.detach()
