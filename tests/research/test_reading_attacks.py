"""The attacks that read every filter (pattern and graph): each must read unhardened field
filters, read XOR-folded ones once an insider names a few records, be held back by salting
(runs per salt), and be scored with honest intervals."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from linkage.agency.encoding.harden import rule90
from linkage.formats.config import load_config
from linkage.matching import load_uploads
from linkage.research.attacks.pattern import undo_rule90, value_tokens
from linkage.research.attacks.reidentify import interval, public_reference, reidentification
from linkage.research.datasets import load_dataset
from linkage.research.evaluation.experiment import encode_dataset, truth_for
from linkage.research.evaluation.privacy import (
    VARIANTS,
    in_upload_order,
    plaintext_dates,
    plaintext_names,
    variant,
)
from linkage.research.synthetic.exports import write_network
from linkage.research.synthetic.names import public_tables


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pattern") / "net"
    write_network(folder, people=3000, agencies=2, seed=4)
    return folder


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's encodings: a setting encoded under one secret is reused."""
    return tmp_path_factory.mktemp("attacks")


def _secret(n: int) -> bytes:
    """Fixed secrets: whether the pattern attack takes off without an insider depends on
    the secret's draw, and a test must not."""
    return hashlib.sha256(f"pattern attack test {n}".encode()).digest()


def _attack(
    network: Path, work: Path, hardening: str, attack: str, known: int = 0, secret: int = 0
) -> float:
    """The share of records re-identified."""
    return float(_results(network, work, hardening, attack, known, secret)["reidentified"])


def _results(
    network: Path, work: Path, hardening: str, attack: str, known: int = 0, secret: int = 0
) -> dict[str, Any]:
    dataset = load_dataset(str(network), work / "data")
    config = variant(load_config(dataset.config), VARIANTS[hardening])
    folder = work / f"{hardening}-{secret}"
    if folder.exists():
        paths = sorted(folder.glob("*.clk"))
    else:
        paths = encode_dataset(dataset, config, folder, _secret(secret))
    uploads, _ = load_uploads(paths)
    assert uploads.field_clks is not None
    people = [str(p) for p in truth_for(dataset, uploads).tolist()]
    values = in_upload_order(plaintext_names(dataset), uploads)
    records = uploads.records()
    dates = plaintext_dates(dataset, config)
    salts = [dates.salts[r] for r in records] if config.salt_field else []
    for name, of in dates.parts.items():
        values[name] = [of[r] for r in records]
    return reidentification(
        config,
        uploads.field_clks,
        values,
        public_tables(),
        attack,
        people=people,
        salts=salts,
        known=known,
    )


def test_unhardened_field_filters_are_read_nearly_whole(network: Path, work: Path) -> None:
    # the frequent names teach every bigram's bits, under most secrets (not every one:
    # docs/security.md); frequency alone names few
    read = [_attack(network, work, "none", "pattern", secret=k) for k in range(3)]
    assert sum(r > 0.7 for r in read) >= 2
    assert _attack(network, work, "none", "frequency") < 0.1


def test_xor_folding_falls_once_an_insider_names_a_few_records(network: Path, work: Path) -> None:
    alone = _attack(network, work, "xor_fold", "pattern")
    insider = _attack(network, work, "xor_fold", "pattern", known=40)
    assert insider > 0.6 and insider > alone + 0.3


def test_rule90_after_folding_is_undone_and_falls_as_folding_does(
    network: Path, work: Path
) -> None:
    assert _attack(network, work, "xor_fold+rule90", "pattern", known=40) > 0.6


def test_the_graph_attack_reads_unhardened_and_folded_filters_from_an_insiders_seeds(
    network: Path, work: Path
) -> None:
    unhardened = _attack(network, work, "none", "graph", known=40)
    folded = _attack(network, work, "xor_fold", "graph", known=40)
    assert unhardened > 0.5 and folded > 0.05
    assert unhardened > _attack(network, work, "none", "frequency") + 0.4


def test_salting_by_year_of_birth_holds_the_insider_back(network: Path, work: Path) -> None:
    # the insider's records teach only their own year's tokens; each year's few hundred
    # filters are too few to learn the rest from frequency
    folded = _attack(network, work, "xor_fold", "pattern", known=40)
    salted = _attack(network, work, "salt+xor_fold", "pattern", known=40)
    assert salted < folded / 3
    assert _attack(network, work, "salt+xor_fold", "graph", known=40) < folded / 3


def test_an_insiders_records_name_every_record_of_their_birth_year_and_birthday(
    network: Path, work: Path
) -> None:
    # a date field filter is the same for every record of one year (one day and month):
    # a known record names them all, where frequency finds little in flat birth years
    alone = _results(network, work, "xor_fold", "frequency")
    insider = _results(network, work, "xor_fold", "graph", known=40)
    assert insider["fields"]["dob"] > alone["fields"]["dob"] + 0.2
    assert insider["fields"]["birthday"] > alone["fields"]["birthday"] + 0.02
    assert 0.0 <= alone["dates"] <= insider["dates"] <= insider["fields"]["birthday"]


def test_rule90_is_undone_bit_for_bit_on_filters_under_half_full() -> None:
    rng = np.random.default_rng(5)
    bits = (rng.random((300, 256)) < 0.3).astype(np.uint8)
    mixed = np.unpackbits(rule90(np.packbits(bits, axis=1)), axis=1)
    assert not np.array_equal(mixed, bits)
    assert np.array_equal(undo_rule90(mixed), bits)


def test_grouped_fields_share_token_names_and_others_keep_their_own() -> None:
    config = load_config("hmis")
    first, last = config.fields[0], config.fields[1]
    dob = next(f for f in config.fields if f.name == "dob")
    shared = {t for t, _ in value_tokens(first, "ann")} & {t for t, _ in value_tokens(last, "ann")}
    assert shared and all(t.startswith("names/") for t in shared)
    assert all(w > 0 for _, w in value_tokens(first, "ann"))
    assert not {t for t, _ in value_tokens(dob, "19800101")} & shared


def test_the_register_holds_the_overlap_and_is_the_population_size() -> None:
    people = [str(i // 2) for i in range(2000)]  # two records a person
    values = [f"name{int(p) % 50}" for p in people]
    table = public_tables()["first_name"]
    full = public_reference(values, people, table, 1.0, np.random.default_rng(1))
    half = public_reference(values, people, table, 0.5, np.random.default_rng(1))
    assert sum(full.values()) == sum(half.values()) == 1000
    assert sum(n for v, n in full.items() if v.startswith("name")) == 1000
    ours = sum(n for v, n in half.items() if v.startswith("name"))
    assert ours == 500  # the rest are drawn from the public table
    with pytest.raises(ValueError, match="overlap"):
        public_reference(values, people, table, 0.0, np.random.default_rng(1))


def test_the_interval_covers_the_mean_and_narrows_with_agreement() -> None:
    assert interval([0.3]) == (0.3, 0.3)
    low, high = interval([0.1, 0.2, 0.3])
    assert low < 0.2 < high
    tight = interval([0.19, 0.2, 0.21])
    assert high - low > tight[1] - tight[0] > 0
    assert interval([0.0, 0.0, 0.01])[0] == 0.0  # a rate is never below 0
