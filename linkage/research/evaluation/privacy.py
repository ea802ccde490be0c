"""The privacy/accuracy trade-off: the same data encoded under several hardening settings,
each linked (F1, count error) and attacked (re-identification).

Variants differ from the base config in their ``[[hardening]]`` steps and ``[salt]`` only;
everything else (tokens, weights, thresholds, blocking) stays, so the trade-off isolates
the hardening.
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.normalize import normalize, normalize_name
from linkage.formats.config import Config, parse_config
from linkage.matching import Uploads
from linkage.research.attacks.reidentify import ATTACKS, date_part, interval, reidentification
from linkage.research.datasets import Dataset
from linkage.research.evaluation.experiment import link_encoded, quality_dict, truth_for
from linkage.research.synthetic.names import public_tables


@dataclass(frozen=True)
class Setting:
    """A hardening setting as a config would write it: its ``[[hardening]]`` steps, and the
    date field whose year of birth salts every field's hashes ("" for none)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    salt: str = ""


#: Hardening settings compared, by name. Balancing and BLIP are left out: field-weighted
#: scoring refuses them (a balanced or flipped filter no longer shows which fields are
#: missing), and the default config scores by weights.
VARIANTS: dict[str, Setting] = {
    "none": Setting(),
    "xor_fold": Setting([{"step": "xor_fold"}]),
    "rule90": Setting([{"step": "rule90"}]),
    "xor_fold+rule90": Setting([{"step": "xor_fold"}, {"step": "rule90"}]),
    "salt": Setting(salt="dob"),
    "salt+xor_fold": Setting([{"step": "xor_fold"}], salt="dob"),
}


def variant(base: Config, setting: Setting) -> Config:
    """``base`` with its hardening and salt replaced by ``setting``'s."""
    with open(base.source, "rb") as fh:
        data = tomllib.load(fh)
    data["hardening"] = setting.steps
    data.pop("salt", None)
    if setting.salt:
        data["salt"] = {"field": setting.salt}
    return parse_config(data, source=base.source)


def is_setting(config: Config, setting: Setting) -> bool:
    """Whether ``config`` hardens as ``setting`` does."""
    steps = [s.step for s in config.hardening]
    return steps == [s["step"] for s in setting.steps] and config.salt_field == setting.salt


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
                    pair.append(v.text)  # "" unless present or partial (Value)
                values[(agency, row[roles.id_column])] = (pair[0], pair[1])
    return values


Record = tuple[str, str]


@dataclass(frozen=True)
class Dates:
    """The ground truth of the date fields: per field, each record's date as its filter can
    tell it (the year, or the day and month; "" where missing), and each record's salt (its
    year of birth as the encoder salts by it; "" where it has none, or nothing is salted)."""

    parts: dict[str, dict[Record, str]]
    salts: dict[Record, str]


def plaintext_dates(dataset: Dataset, config: Config) -> Dates:
    """The date fields of every record, normalised as the encoder normalises them; scored
    against, and the salts told to the attacker (see :mod:`linkage.research.attacks.reidentify`)."""
    specs = [f for f in config.fields if f.kind == "date"]
    today = dt.date.today()
    parts: dict[str, dict[Record, str]] = {f.name: {} for f in specs}
    salts: dict[Record, str] = {}
    for agency, path in dataset.sources:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                record = (agency, row[dataset.roles.id_column])
                salts[record] = ""
                for spec in specs:
                    quality = row.get(spec.quality_column, "") if spec.quality_column else ""
                    text = normalize(row[spec.column], quality, spec, today).text
                    parts[spec.name][record] = date_part(spec, text)
                    if spec.name == config.salt_field:
                        salts[record] = text[:4]
    return Dates(parts, salts)


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
    attacks: Sequence[str] = ATTACKS,
    overlap: float = 1.0,
    known: int = 0,
) -> list[dict[str, Any]]:
    """Link and attack the data set once per hardening variant and secret; one row per variant.

    With ``repeats`` > 1 each variant is run under that many fresh secrets, all variants
    sharing each secret, and the row holds the means: which bits a secret sends q-grams to
    moves F1 by a few tenths of a point from one secret to the next, as much as the gap
    between hardening settings, so one run cannot tell a 0.3-point cost from a 0.5 one.
    ``f1_runs`` and ``count_runs`` keep each secret's F1 and count error in order, so costs
    can be paired secret by secret.

    ``attacks`` holds every attack asked for (the pattern and graph attacks' register holds
    ``overlap`` of the people and their insider knows ``known`` records), each rate with its
    90% interval over the secrets.
    """
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attack {unknown[0]!r}: one of {', '.join(ATTACKS)}")
    if not attacks:
        raise ValueError("the trade-off needs at least one attack")
    attacks = list(dict.fromkeys(attacks))  # a repeated --attack runs once
    if dataset.truth is None:
        raise ValueError("the trade-off needs a data set with truth")
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    configs = {name: variant(base, VARIANTS[name]) for name in names or list(VARIANTS)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    plaintext = plaintext_names(dataset)  # read once: every variant encodes the same records
    dates_of = {name: plaintext_dates(dataset, config) for name, config in configs.items()}
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
            records = uploads.records()
            dates = dates_of[name]
            for field_name, of in dates.parts.items():
                values[field_name] = [of[record] for record in records]
            salts = [dates.salts[record] for record in records] if config.salt_field else []
            found = {
                kind: reidentification(
                    config,
                    uploads.field_clks,
                    values,
                    public_tables(),
                    kind,
                    people=people,
                    salts=salts,
                    overlap=overlap,
                    known=known,
                    seed=rep,
                )
                for kind in attacks
            }
            runs[name].append(
                {
                    **quality_dict(result.labels, truth),
                    "attacks": found,
                    "s": seconds,
                }
            )
    return [
        {
            "hardening": name,
            "default": is_setting(base, VARIANTS[name]),
            "repeats": repeats,
            **{k: fmean(r[k] for r in rs) for k in ("f1", "precision", "recall", "count_error")},
            "f1_runs": [r["f1"] for r in rs],
            "count_runs": [r["count_error"] for r in rs],
            "records": rs[0]["attacks"][attacks[0]]["records"],
            "attacks": {kind: _rates([r["attacks"][kind] for r in rs]) for kind in attacks},
            "seconds": round(fmean(r["s"] for r in rs), 2),
        }
        for name, rs in runs.items()
    ]


def _rates(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One attack's rates over the secrets: per field, for whole dates of birth and for
    whole records, the mean and its 90% interval."""

    def over(values: list[float]) -> dict[str, float]:
        low, high = interval(values)
        return {"mean": fmean(values), "low": low, "high": high}

    rates = {
        "fields": {f: over([r["fields"][f] for r in runs]) for f in runs[0]["fields"]},
        "reidentified": over([r["reidentified"] for r in runs]),
    }
    if "dates" in runs[0]:
        rates["dates"] = over([r["dates"] for r in runs])
    return rates


def strongest(row: dict[str, Any]) -> str:
    """The attack that re-identified the most records in ``row`` (on its mean)."""
    rates: dict[str, Any] = row["attacks"]
    return max(rates, key=lambda kind: float(rates[kind]["reidentified"]["mean"]))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The goal's numbers for the config's own hardening: what the strongest attack
    re-identifies (records and first names, with their intervals), and the F1 and count
    error lost against the same config without hardening (paired secret by secret)."""
    by = {r["hardening"]: r for r in rows}
    default = next((r for r in rows if r["default"]), None)
    if default is None or "none" not in by:
        return {}
    none = by["none"]
    costs = [n - d for n, d in zip(none["f1_runs"], default["f1_runs"], strict=True)]
    count_costs = [
        abs(d) - abs(n) for n, d in zip(none["count_runs"], default["count_runs"], strict=True)
    ]
    kind = strongest(default)
    return {
        "hardening": default["hardening"],
        "repeats": default["repeats"],
        "strongest": kind,
        "reidentified": default["attacks"][kind]["reidentified"],
        "first_names": default["attacks"][kind]["fields"]["first_name"],
        "f1_cost": fmean(costs),
        "f1_cost_range": [min(costs), max(costs)],
        "count_cost": fmean(count_costs),
        "unhardened_strongest": strongest(none),
        "unhardened_reidentified": none["attacks"][strongest(none)]["reidentified"],
    }
