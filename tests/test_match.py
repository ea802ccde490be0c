"""``linkage match``: the CLI contract, quality on the synthetic network, and every refusal."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from linkage.agency.encoding.keys import write_secret
from linkage.formats.config import builtin_config_path
from linkage.formats.container import CLKS, Block, ClkWriter, read_clk
from linkage.research.evaluation.metrics import pairwise_quality
from linkage.research.synthetic.exports import truth_labels
from tests.conftest import TODAY
from tests.test_cli import run


@pytest.fixture(scope="module")
def uploads(network, hmis_config, tmp_path_factory) -> list[Path]:
    """The network's three agencies encoded with one shared secret."""
    from linkage.agency.encoding.pipeline import encode_file

    out = tmp_path_factory.mktemp("uploads")
    secret = bytes(range(32))  # fixed, so that blocking outcomes are the same on every run
    paths = []
    for client in network:
        target = out / f"{client.parent.name}.clk"
        encode_file(hmis_config, secret, client, target, client.parent.name, today=TODAY)
        paths.append(target)
    return paths


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _truth_labels(network: list[Path], rows: list[dict[str, str]]) -> np.ndarray:
    records = [(r["agency"], r["record_id"]) for r in rows]
    return truth_labels(network[0].parent.parent / "truth.csv", records)


def test_match_writes_every_record_and_finds_people(
    uploads, network, hmis_config, tmp_path, capsys, monkeypatch
) -> None:
    code, out, err = run(["match", *uploads, "-o", tmp_path / "res"], capsys, monkeypatch)
    assert code == 0, err
    rows = _rows(tmp_path / "res" / "entities.csv")
    assert list(rows[0]) == ["agency", "record_id", "entity_id"]
    exported = sum(len(_rows(p)) for p in network)
    assert len(rows) == exported
    assert len({(r["agency"], r["record_id"]) for r in rows}) == exported
    found = np.unique([r["entity_id"] for r in rows], return_inverse=True)[1]
    quality = pairwise_quality(found, _truth_labels(network, rows))
    assert quality.precision > 0.97 and quality.recall > 0.85
    assert abs(quality.count_error) < 0.1
    review = _rows(tmp_path / "res" / "review.csv")
    th = hmis_config.thresholds
    band = [float(r["score"]) for r in review if r["reason"] == "review band"]
    assert band and all(th.lower <= s < th.upper for s in band)
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert summary["entities"] == len(set(r["entity_id"] for r in rows))
    # the fitted model is reported: agreeing on a date of birth is evidence, disagreeing is not
    dob = summary["model"]["fields"]["dob"]
    assert dob["exact"]["weight"] > 5 > 0 > dob["low"]["weight"]
    # the people estimate, with its interval, beside the entities
    guess = summary["people_estimate"]
    assert guess["level"] == 0.9 and guess["low"] <= guess["estimate"] <= guess["high"]
    people = len(set(_truth_labels(network, rows).tolist()))
    assert abs(guess["estimate"] - people) < 0.1 * people
    assert f"people: {guess['estimate']:,.0f} estimated" in out
    assert f"90% interval {guess['low']:,.0f} to {guess['high']:,.0f}" in out
    assert f"{exported:,} records from 3 agencies" in out
    # the summary never shows a record's content: only counts and file names
    assert all(r["record_id"] not in out for r in rows[:50])


def test_filters_kept_on_disk_give_the_same_results(uploads, tmp_path, capsys, monkeypatch):
    """--work-dir: the uploads' arrays are files there, memory-mapped, and removed after."""
    from linkage.matching import load_uploads

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code, _, err = run(["match", *uploads, "-o", tmp_path / "mem"], capsys, monkeypatch)
    assert code == 0, err
    args = ["match", *uploads, "--work-dir", scratch, "-o", tmp_path / "disk"]
    code, _, err = run(args, capsys, monkeypatch)
    assert code == 0, err
    for name in ("entities.csv", "review.csv"):
        assert (tmp_path / "disk" / name).read_text() == (tmp_path / "mem" / name).read_text()
    assert not any(scratch.iterdir())  # the run's folder went with it
    loaded, _ = load_uploads(uploads, scratch)
    assert isinstance(loaded.clks.base, np.memmap)
    assert {p.name for p in scratch.iterdir()} == {"clks.npy", "field_clks.npy", "block_keys.npy"}
    assert np.array_equal(loaded.clks, load_uploads(uploads)[0].clks)
    missing = ["match", *uploads, "--work-dir", tmp_path / "nowhere", "-o", tmp_path / "never"]
    code, _, err = run(missing, capsys, monkeypatch)
    assert code != 0 and "--work-dir" in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()


def test_an_upload_that_changes_while_it_is_read_is_refused(uploads, monkeypatch) -> None:
    """The headers are read first and the records after: a file replaced between the two
    (its records no longer the count its header gave) is refused, not overrun."""
    import linkage.matching.uploads as loading
    from linkage.errors import ContainerError

    first = loading.read_header

    for change in (-1, +1):

        def shifted(path: Path, change: int = change) -> tuple[object, int]:
            header, count = first(path)
            return header, count + change if path == uploads[1] else count

        monkeypatch.setattr(loading, "read_header", shifted)
        with pytest.raises(ContainerError, match="changed while it was being read"):
            loading.load_uploads(uploads)


def test_one_to_one_links_each_record_at_most_once(uploads, tmp_path, capsys, monkeypatch) -> None:
    code, _, err = run(
        ["match", uploads[0], uploads[1], "--one-to-one", "-o", tmp_path], capsys, monkeypatch
    )
    assert code == 0, err
    rows = _rows(tmp_path / "entities.csv")
    per_entity: dict[str, list[str]] = {}
    for r in rows:
        per_entity.setdefault(r["entity_id"], []).append(r["agency"])
    assert max(len(v) for v in per_entity.values()) == 2
    assert all(len(set(v)) == len(v) for v in per_entity.values())  # never two of one agency
    assert sum(len(v) == 2 for v in per_entity.values()) > 50
    code, _, err = run(["match", *uploads, "--one-to-one", "-o", tmp_path], capsys, monkeypatch)
    assert code == 2 and "exactly two files" in err
    code, _, err = run(["match", "-o", tmp_path / "none"], capsys, monkeypatch)
    assert code == 2 and "at least one .clk file" in err and not (tmp_path / "none").exists()


def _refused(args, capsys, monkeypatch, out: Path) -> str:
    code, stdout, err = run([*args, "-o", out], capsys, monkeypatch)
    assert code != 0 and stdout == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # nothing written
    return err


def test_refusals(uploads, network, hmis_config, tmp_path, capsys, monkeypatch) -> None:
    from linkage.agency.encoding.pipeline import encode_file

    out = tmp_path / "never"
    # another secret
    other = tmp_path / "other.key"
    write_secret(other)
    from linkage.agency.encoding.keys import read_secret

    wrong = tmp_path / "wrong.clk"
    encode_file(hmis_config, read_secret(other), network[2], wrong, "agency_9", today=TODAY)
    assert "different secrets" in _refused(["match", uploads[0], wrong], capsys, monkeypatch, out)
    # the same agency twice
    twice = tmp_path / "twice.clk"
    shutil.copy(uploads[0], twice)
    err = _refused(["match", uploads[0], twice], capsys, monkeypatch, out)
    assert "both come from agency 'agency_1'" in err
    # another config
    text = builtin_config_path("hmis").read_text().replace("length = 2048", "length = 1024")
    cfg = tmp_path / "small.toml"
    cfg.write_text(text)
    code, _, err = run(["match", *uploads, "--config", cfg, "-o", out], capsys, monkeypatch)
    assert code == 2 and "is not the config the uploads were encoded with" in err
    # a corrupt file
    bad = tmp_path / "bad.clk"
    data = bytearray(uploads[1].read_bytes())
    data[len(data) // 2] ^= 0x40
    bad.write_bytes(bytes(data))
    assert "bad.clk" in _refused(["match", uploads[0], bad], capsys, monkeypatch, out)
    truncated = tmp_path / "short.clk"
    truncated.write_bytes(bytes(data[: len(data) // 3]))
    assert "short.clk" in _refused(["match", uploads[0], truncated], capsys, monkeypatch, out)
    # a crafted file: the config's fingerprint, but filters of half the width
    good = read_clk(uploads[1])
    half = good.header.filter_length // 2
    narrow = dataclasses.replace(
        good.header,
        filter_length=half,
        sections=tuple(
            dataclasses.replace(s, width=half // 8) if s.name == CLKS else s
            for s in good.header.sections
        ),
    )
    crafted = tmp_path / "narrow.clk"
    with ClkWriter(crafted, narrow) as writer:
        writer.write(Block(good.ids, {**good.sections, CLKS: good.clks[:, : half // 8].copy()}))
    err = _refused(["match", uploads[0], crafted], capsys, monkeypatch, out)
    assert "'clks' sections differ in width" in err


def test_thresholds_come_from_the_config(uploads, tmp_path, capsys, monkeypatch) -> None:
    """[thresholds] are not in the fingerprint: a coordinator may tune them."""
    text = builtin_config_path("hmis").read_text()
    strict = tmp_path / "strict.toml"
    text = re.sub(r"(?m)^upper = [0-9.]+", "upper = 0.999", text)
    strict.write_text(re.sub(r"(?m)^lower = [0-9.]+", "lower = 0.99", text))
    code, _, err = run(
        ["match", *uploads, "--config", strict, "-o", tmp_path / "s"], capsys, monkeypatch
    )
    assert code == 0, err
    run(["match", *uploads, "-o", tmp_path / "d"], capsys, monkeypatch)
    strict_n = len({r["entity_id"] for r in _rows(tmp_path / "s" / "entities.csv")})
    default_n = len({r["entity_id"] for r in _rows(tmp_path / "d" / "entities.csv")})
    assert strict_n > default_n  # fewer links: more entities


def _candidates(uploads: list[Path], config_text: str, tmp_path: Path, name: str):
    from linkage.matching import Linker, config_for, load_uploads

    path = tmp_path / f"{name}.toml"
    path.write_text(config_text)
    loaded, headers = load_uploads(uploads)
    result = Linker(config_for(headers, path)).link(loaded)
    pairs = set(zip(result.rows_a.tolist(), result.rows_b.tolist(), strict=True))
    return pairs, result


def test_blocking_finds_the_pairs_all_pairs_finds(uploads, tmp_path) -> None:
    from linkage.matching import load_uploads
    from linkage.matching.candidates.pairs import pair_dice

    text = builtin_config_path("hmis").read_text()
    every, full = _candidates(uploads, text, tmp_path, "all")
    assert full.report.blocking["method"] == "all pairs"
    by_keys, keyed = _candidates(
        uploads, text.replace('blocking = "auto"', 'blocking = "keys"'), tmp_path, "keys"
    )
    by_lsh, hashed = _candidates(
        uploads, text.replace('blocking = "auto"', 'blocking = "lsh"'), tmp_path, "lsh"
    )
    assert by_keys <= every and by_lsh <= every
    # above all_pairs_limit, auto blocks with the agencies' keys
    over, auto = _candidates(
        uploads,
        text.replace('blocking = "auto"', 'blocking = "auto"\nall_pairs_limit = 10'),
        tmp_path,
        "auto",
    )
    assert auto.report.blocking["method"] == "blocking keys" and over == by_keys
    # of the pairs all-pairs comparison links, blocking keys find nearly all
    linked = {(i, j) for i, j in every if full.labels[i] == full.labels[j]}
    assert len(linked & by_keys) >= 0.95 * len(linked)
    assert keyed.report.blocking["reduction_ratio"] > 0.99
    # LSH is designed to find pairs at record-level Dice 0.8 with probability 0.99
    loaded, _ = load_uploads(uploads)
    ordered = sorted(every)
    ra, rb = (np.array(x, np.int64) for x in zip(*ordered, strict=True))
    dice = pair_dice(loaded.clks, loaded.clks, ra, rb)
    high = {p for p, s in zip(ordered, dice.tolist(), strict=True) if s >= 0.8}
    assert len(high & by_lsh) >= 0.97 * len(high)
    assert hashed.report.blocking["reduction_ratio"] > 0.5
    # entities barely move
    labels = (r.labels for r in (full, keyed, hashed))
    base = next(labels)
    for other in labels:
        assert pairwise_quality(other, base).recall > 0.9


@pytest.mark.parametrize("blocking", ["all", "keys", "lsh"])
def test_fresh_candidates_are_the_full_runs_pairs_touching_a_fresh_record(
    uploads, hmis_config, blocking
) -> None:
    """What a by-name list's month asks for: the pairs a full search finds that touch one of
    the month's new records, each once, low row first, with the same scores."""
    import dataclasses

    from linkage.matching import Linker, load_uploads

    loaded, _ = load_uploads(uploads)
    config = dataclasses.replace(
        hmis_config, match=dataclasses.replace(hmis_config.match, blocking=blocking)
    )
    fresh = np.random.default_rng(4).random(len(loaded.ids)) < 0.2
    found = Linker(config).find(loaded)
    ra, rb, sc = found.rows_a, found.rows_b, found.dice
    found = Linker(config).find(loaded, fresh=fresh)
    fa, fb, fs, stats = found.rows_a, found.rows_b, found.dice, found.blocking
    touching = fresh[ra] | fresh[rb]
    assert 0 < touching.sum() < len(ra)
    got = list(zip(fa.tolist(), fb.tolist(), strict=True))
    assert got == sorted(set(got))
    assert got == list(zip(ra[touching].tolist(), rb[touching].tolist(), strict=True))
    assert np.allclose(fs, sc[touching])
    everyone = len(loaded.ids) * (len(loaded.ids) - 1) // 2
    assert stats["comparisons"] < everyone  # the old records' pairs among themselves: skipped


def _with(config, **changes):
    """``config`` with some [thresholds] and [match] settings changed."""
    import dataclasses

    th = {k: v for k, v in changes.items() if hasattr(config.thresholds, k)}
    match = {k: v for k, v in changes.items() if hasattr(config.match, k)}
    return dataclasses.replace(
        config,
        thresholds=dataclasses.replace(config.thresholds, **th),
        match=dataclasses.replace(config.match, **match),
    )


@pytest.mark.parametrize("blocking", ["all", "keys"])
def test_a_pair_sharing_a_specific_key_is_a_candidate_below_the_dice_floor(
    uploads, hmis_config, blocking
) -> None:
    """Issue 20: at every size, a pair that shares a blocking key few records hold (a full
    DOB, an SSN's last 4) is scored from key_candidate up, not only from the Dice floor."""
    from linkage.matching import Linker, load_uploads
    from linkage.matching.candidates.pairs import pair_dice

    loaded, _ = load_uploads(uploads)
    th = hmis_config.thresholds
    assert th.key_candidate < th.candidate
    floor_only = _with(hmis_config, blocking=blocking, key_candidate=th.candidate)
    found = Linker(floor_only).find(loaded)
    ra, rb, _ = found.rows_a, found.rows_b, found.dice
    found = Linker(_with(hmis_config, blocking=blocking)).find(loaded)
    ka, kb, kd, stats = found.rows_a, found.rows_b, found.dice, found.blocking
    base = set(zip(ra.tolist(), rb.tolist(), strict=True))
    got = list(zip(ka.tolist(), kb.tolist(), strict=True))
    assert got == sorted(set(got)) and base <= set(got)
    extra = np.array([p for p in got if p not in base], np.int64)
    assert stats["key_candidates"] == len(extra) > 0
    dice = pair_dice(loaded.clks, loaded.clks, extra[:, 0], extra[:, 1])
    assert (dice >= th.key_candidate - 1e-9).all() and (dice < th.candidate).all()
    assert np.allclose(kd, pair_dice(loaded.clks, loaded.clks, ka, kb))
    keys = loaded.block_keys
    shared = (keys[extra[:, 0]] == keys[extra[:, 1]]) & (keys[extra[:, 0]] != 0)
    assert shared.any(axis=1).all()
    # a key held by more records than key_block is not specific: its pairs need the floor
    pairs_only = _with(hmis_config, blocking=blocking, key_block=2)
    found = Linker(pairs_only).find(loaded)
    sa, sb, _ = found.rows_a, found.rows_b, found.dice
    assert base < set(zip(sa.tolist(), sb.tolist(), strict=True)) < set(got)


def test_a_part_is_searched_with_the_wholes_key_counts(uploads, hmis_config) -> None:
    """A by-name list searches a few people's records at a time: whether a key is specific
    is judged on the whole list, so the part finds exactly the whole's pairs inside it."""
    import dataclasses

    from linkage.matching import Linker, load_uploads

    loaded, _ = load_uploads(uploads)
    n = len(loaded.ids)
    rows = np.flatnonzero(np.random.default_rng(5).random(n) < 0.3)
    assert loaded.block_keys is not None
    part = dataclasses.replace(
        loaded,
        ids=[loaded.ids[i] for i in rows],
        party=loaded.party[rows],
        clks=loaded.clks[rows],
        field_clks=None if loaded.field_clks is None else loaded.field_clks[rows],
        block_keys=loaded.block_keys[rows],
    )
    at = np.full(n, -1)
    at[rows] = np.arange(len(rows))
    strict = _with(hmis_config, key_block=3)
    found = Linker(strict).find(loaded)
    wa, wb, _ = found.rows_a, found.rows_b, found.dice
    inside = (at[wa] >= 0) & (at[wb] >= 0)
    want = list(zip(at[wa[inside]].tolist(), at[wb[inside]].tolist(), strict=True))
    found = Linker(strict).find(part, scale=n, whole_keys=loaded.block_keys)
    pa, pb, _ = found.rows_a, found.rows_b, found.dice
    assert list(zip(pa.tolist(), pb.tolist(), strict=True)) == want
    # judged on the part alone, keys the whole holds 4 times look specific: more pairs
    found = Linker(strict).find(part, scale=n)
    qa, _, _ = found.rows_a, found.rows_b, found.dice
    assert len(qa) > len(pa)


def test_keys_requested_but_missing(network, hmis_config, tmp_path) -> None:
    import dataclasses

    from linkage.agency.encoding.pipeline import encode_file
    from linkage.errors import InputError
    from linkage.matching import Linker, load_uploads

    plain = dataclasses.replace(hmis_config, blocking=())
    paths = []
    for client in network[:2]:
        target = tmp_path / f"{client.parent.name}.clk"
        encode_file(plain, bytes(32), client, target, client.parent.name, today=TODAY)
        paths.append(target)
    loaded, _ = load_uploads(paths)
    assert loaded.block_keys is None
    keys = dataclasses.replace(plain, match=dataclasses.replace(plain.match, blocking="keys"))
    with pytest.raises(InputError, match="blocking keys"):
        Linker(keys).link(loaded)


@pytest.mark.parametrize(
    ("shipped", "new_column"),
    [
        ("hmis-1", "first_name/last_name swapped"),
        ("hmis-2", "dob and birthday both exact"),
        ("hmis-3", "ssn and ssn_last4 both exact"),
    ],
)
def test_uploads_of_an_older_hmis_config_still_match(
    network, tmp_path, capsys, monkeypatch, shipped: str, new_column: str
) -> None:
    """Migration: files an older linkage encoded with 'hmis' (now shipped as hmis-1 from
    before 0.2, hmis-2 from 0.2, hmis-3 from 0.3) name 'hmis' in their header, but carry the
    old fingerprint; match finds the built-in config that encodes as they do."""
    from linkage.agency.encoding.pipeline import encode_file
    from linkage.formats.config import load_config
    from linkage.formats.container import read_clk
    from linkage.matching import comparison_names
    from linkage.matching.scoring import Comparisons

    old_text = builtin_config_path(shipped).read_text()
    old_text = old_text.replace(f'name = "{shipped}"', 'name = "hmis"')
    (tmp_path / "old.toml").write_text(old_text)
    old = load_config(tmp_path / "old.toml")
    assert old.fingerprint == load_config(shipped).fingerprint
    paths = []
    for client in network[:2]:
        paths.append(tmp_path / f"{client.parent.name}.clk")
        encode_file(old, bytes(range(32)), client, paths[-1], client.parent.name, today=TODAY)
    assert read_clk(paths[0]).header.config_name == "hmis"
    code, _, err = run(["match", *paths, "-o", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert new_column not in summary["model"]["fields"]
    current = load_config("hmis")  # which has it: the name above is the one it is given
    names = comparison_names([f.name for f in current.fields], Comparisons.of(current))
    assert new_column in names
    # and a file of a config no built-in encodes as is refused in one line
    other = old_text.replace("weight = 6", "weight = 7")
    (tmp_path / "other.toml").write_text(other)
    encode_file(
        load_config(tmp_path / "other.toml"),
        bytes(range(32)),
        network[2],
        tmp_path / "x.clk",
        "x",
        today=TODAY,
    )
    code, _, err = run(["match", tmp_path / "x.clk", "-o", tmp_path / "o2"], capsys, monkeypatch)
    assert code == 2 and "that no built-in config matches" in err
