"""The privacy/accuracy trade-off: the same data encoded under several hardening settings,
each linked (F1, count error) and attacked (re-identification).

Variants differ from the base config in their ``[[hardening]]`` steps only; everything else
(tokens, weights, thresholds, blocking) stays, so the trade-off isolates the hardening.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import fmean
from typing import Any

from linkage.config import Config, parse_config
from linkage.encoding.keys import generate_secret
from linkage.evaluate.attack import ATTACKS, interval, reidentification
from linkage.evaluate.datasets import Dataset
from linkage.evaluate.experiment import link_encoded, quality_dict, truth_for
from linkage.evaluate.names import public_tables
from linkage.match import Uploads
from linkage.normalize import Status, normalize_name

#: Hardening settings compared, by name: the steps as they would be written in a config.
#: Balancing and BLIP are left out: field-weighted scoring refuses them (a balanced or flipped
#: filter no longer shows which fields are missing), and the default config scores by weights.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "xor_fold": [{"step": "xor_fold"}],
    "rule90": [{"step": "rule90"}],
    "xor_fold+rule90": [{"step": "xor_fold"}, {"step": "rule90"}],
}


def variant(base: Config, steps: list[dict[str, Any]]) -> Config:
    """``base`` with its hardening replaced by ``steps``."""
    with open(base.source, "rb") as fh:
        data = tomllib.load(fh)
    data["hardening"] = steps
    return parse_config(data, source=base.source)


Names = dict[tuple[str, str], tuple[str, str]]


def plaintext_names(dataset: Dataset) -> Names:
    """Normalised first name and surname of each (agency, record id) ("" when missing): the
    ground truth the attack is scored against, never shown to it."""
    roles = dataset.roles
    values: Names = {}
    for agency, path in dataset.sources:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                pair = []
                for column in (roles.first, roles.last):
                    v = normalize_name(row[column], row.get(roles.quality.get(column, ""), ""))
                    pair.append(v.text if v.status in (Status.PRESENT, Status.PARTIAL) else "")
                values[(agency, row[roles.id_column])] = (pair[0], pair[1])
    return values


def in_upload_order(values: Names, uploads: Uploads) -> dict[str, list[str]]:
    rows = [values[record] for record in uploads.records()]
    return {"first_name": [r[0] for r in rows], "last_name": [r[1] for r in rows]}


def tradeoff(
    dataset: Dataset,
    base: Config,
    work: Path,
    names: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    repeats: int = 1,
    attacks: Sequence[str] = ("frequency",),
    overlap: float = 1.0,
    known: int = 0,
) -> list[dict[str, Any]]:
    """Link and attack the data set once per hardening variant and secret; one row per variant.

    With ``repeats`` > 1 each variant is run under that many fresh secrets, all variants
    sharing each secret, and the row holds the means: which bits a secret sends q-grams to
    moves F1 by a few tenths of a point from one secret to the next, as much as the gap
    between hardening settings, so one run cannot tell a 0.3-point cost from a 0.5 one.
    ``f1_runs`` keeps each secret's F1 in order, so costs can be paired secret by secret.

    ``attack`` is the frequency attack's result (what the report charts); ``attacks`` holds
    every attack asked for (``attacks``; the pattern attack's register holds ``overlap`` of
    the people and its insider knows ``known`` records), each rate with its 90% interval
    over the secrets.
    """
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attack {unknown[0]!r}: one of {', '.join(ATTACKS)}")
    attacks = list(dict.fromkeys(("frequency", *attacks)))
    if dataset.truth is None:
        raise ValueError("the trade-off needs a data set with truth")
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    configs = {name: variant(base, VARIANTS[name]) for name in names or list(VARIANTS)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    plaintext = plaintext_names(dataset)  # read once: every variant encodes the same records
    for rep in range(repeats):
        secret = generate_secret()
        for name, config in configs.items():
            if progress:
                label = f" (secret {rep + 1} of {repeats})" if repeats > 1 else ""
                progress(f"hardening '{name}'{label}: encoding, linking and attacking")
            uploads, result, seconds = link_encoded(
                dataset, config, work / f"{name}-{rep}", False, secret
            )
            truth = truth_for(dataset, uploads)
            assert uploads.field_clks is not None
            values = in_upload_order(plaintext, uploads)
            people = [str(p) for p in truth.tolist()]
            found = {
                kind: reidentification(
                    config,
                    uploads.field_clks,
                    values,
                    public_tables(),
                    kind,
                    people=people,
                    overlap=overlap,
                    known=known,
                    seed=rep,
                )
                for kind in attacks
            }
            runs[name].append(
                {
                    **quality_dict(result.labels, truth),
                    "attack": found["frequency"],
                    "attacks": found,
                    "s": seconds,
                }
            )
    base_steps = [s.step for s in base.hardening]
    return [
        {
            "hardening": name,
            "default": base_steps == [s["step"] for s in VARIANTS[name]],
            "repeats": repeats,
            **{k: fmean(r[k] for r in rs) for k in ("f1", "precision", "recall", "count_error")},
            "f1_runs": [r["f1"] for r in rs],
            "attack": {
                "records": rs[0]["attack"]["records"],
                "fields": {
                    f: fmean(r["attack"]["fields"][f] for r in rs)
                    for f in rs[0]["attack"]["fields"]
                },
                "reidentified": fmean(r["attack"]["reidentified"] for r in rs),
                "reidentified_max": max(r["attack"]["reidentified"] for r in rs),
            },
            "attacks": {kind: _rates([r["attacks"][kind] for r in rs]) for kind in attacks},
            "seconds": round(fmean(r["s"] for r in rs), 2),
        }
        for name, rs in runs.items()
    ]


def _rates(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One attack's rates over the secrets: per field and for whole records, the mean and
    its 90% interval."""

    def over(values: list[float]) -> dict[str, float]:
        low, high = interval(values)
        return {"mean": fmean(values), "low": low, "high": high}

    return {
        "fields": {f: over([r["fields"][f] for r in runs]) for f in runs[0]["fields"]},
        "reidentified": over([r["reidentified"] for r in runs]),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The goal's two numbers for the config's own hardening: re-identification, and F1 lost
    against the same config without hardening (mean and range over secrets, paired)."""
    by = {r["hardening"]: r for r in rows}
    default = next((r for r in rows if r["default"]), None)
    if default is None or "none" not in by:
        return {}
    costs = [n - d for n, d in zip(by["none"]["f1_runs"], default["f1_runs"], strict=True)]
    return {
        "hardening": default["hardening"],
        "repeats": default["repeats"],
        "reidentified": default["attack"]["reidentified"],
        "reidentified_max": default["attack"]["reidentified_max"],
        "f1_cost": fmean(costs),
        "f1_cost_range": [min(costs), max(costs)],
        "unhardened_reidentified": by["none"]["attack"]["reidentified"],
    }
