from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest

from linkage.agency.encoding import encoder as encoder_module
from linkage.agency.encoding.encoder import Encoder
from linkage.agency.encoding.pipeline import iter_columns
from linkage.agency.encoding.tokens import digit_positions
from linkage.formats.config import Config
from linkage.matching.scoring import LEVELS
from linkage.research.synthetic.population import make_people

TODAY = _dt.date(2026, 11, 1)
FIELDS = ("first_name", "last_name", "dob", "birthday", "ssn", "ssn_last4", "sex")


def _encode(config: Config, secret: bytes, rows: list[dict[str, str]], **kw):
    """Encode records given as {field: value, field+'_q': quality}; a part of a field (the
    birthday of the date of birth) reads its whole's value, as it reads the same column."""
    whole = {f.name: f.part_of or f.name for f in config.fields}
    cols = [[r.get(whole[f.name], "") for r in rows] for f in config.fields]
    quals = [
        [r.get(whole[f.name] + "_q", "1") for r in rows] if f.quality_column else None
        for f in config.fields
    ]
    return Encoder(config, secret, today=TODAY, **kw).encode(cols, quals)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = np.bitwise_count(a).sum(), np.bitwise_count(b).sum()
    return float(2 * np.bitwise_count(a & b).sum() / (pa + pb)) if pa + pb else 0.0


def _field(chunk, config: Config, row: int, name: str) -> np.ndarray:
    width = config.output_field_length // 8
    i = [f.name for f in config.fields].index(name)
    return chunk.field_clks[row, i * width : (i + 1) * width]


# Obviously invented names, and SSNs made by the project's own generator (never typed in).
_SSN, _OTHER_SSN = (p.ssn for p in make_people(2, seed=11))
PERSON = {
    "first_name": "Zelphine",
    "last_name": "Quorrin-Vastel",
    "dob": "1984-03-07",
    "ssn": _SSN,
    "sex": "0",
}


def test_deterministic_per_secret(hmis_config, secret) -> None:
    a = _encode(hmis_config, secret, [PERSON])
    b = _encode(hmis_config, secret, [PERSON])
    c = _encode(hmis_config, bytes(32), [PERSON])
    assert np.array_equal(a.clks, b.clks)
    assert _dice(a.clks, c.clks) < 0.5


def test_empty_and_placeholder_fields_add_no_bits(hmis_config, secret) -> None:
    nothing = _encode(hmis_config, secret, [{}])
    assert not nothing.clks.any() and not nothing.field_clks.any()
    no_dob = dict(PERSON, dob="")
    placeholder = dict(PERSON, dob="1900-01-01", first_name="Unknown", ssn="999999999")
    chunk = _encode(hmis_config, secret, [PERSON, no_dob, placeholder, dict(PERSON, dob_q="99")])
    assert not _field(chunk, hmis_config, 1, "dob").any()
    assert not _field(chunk, hmis_config, 2, "first_name").any()
    assert not _field(chunk, hmis_config, 2, "ssn").any()
    assert np.array_equal(chunk.clks[1], chunk.clks[3])
    counts = chunk.status_counts["dob"]
    assert counts[0] == 1 and counts[2] == 3  # present once, missing three times


def test_missing_field_never_raises_similarity(hmis_config, secret) -> None:
    """Two different people: blanking a field on both sides must not make them look closer
    than the same pair with that field present and agreeing would."""
    other = {
        "first_name": "Bramwick",
        "last_name": "Oxtaby",
        "dob": "1990-11-23",
        "ssn": _OTHER_SSN,
    }
    rows = [PERSON, other]
    for f in ("dob", "ssn", "first_name"):
        rows += [dict(PERSON, **{f: ""}), dict(other, **{f: ""})]
    chunk = _encode(hmis_config, secret, rows)
    base = _dice(chunk.clks[0], chunk.clks[1])
    for k in range(3):
        blank = _dice(chunk.clks[2 + 2 * k], chunk.clks[3 + 2 * k])
        assert blank <= base + 0.08  # the shared bits stay the same; no bits are added


def test_errors_real_records_have_keep_similarity(hmis_config) -> None:
    secret = bytes(range(32))  # fixed: margins below are about structure, not one draw
    rows = [
        PERSON,
        dict(PERSON, dob="1984-07-03"),  # day/month swapped
        dict(PERSON, dob="1984-05-09"),  # another day entirely
        dict(PERSON, last_name="Quorrin"),
        dict(PERSON, last_name="Vastel"),
        dict(PERSON, ssn=_SSN[-4:], ssn_q="2"),
        dict(PERSON, ssn=_OTHER_SSN[:5] + _SSN[-4:]),  # same last 4, other first 5
    ]
    c = _encode(hmis_config, secret, rows)

    def fd(i: int, j: int, name: str) -> float:
        return _dice(_field(c, hmis_config, i, name), _field(c, hmis_config, j, name))

    assert fd(0, 1, "dob") == fd(0, 2, "dob") == 1.0  # the year agrees
    # the day and month swapped: the model's "middle" agreement; another day: "low"
    assert fd(0, 1, "birthday") >= LEVELS[2] > fd(0, 2, "birthday") + 0.1
    # Bill and William share their nickname token; by how much it shows depends on where the
    # hashes fall (under one secret, -0.01 to 0.27), so the margin is judged over sixteen
    nick = [dict(PERSON, first_name=name) for name in ("Bill", "William", "Walter")]
    margins = []
    for k in range(1, 17):
        n = _encode(hmis_config, bytes([k]) * 32, nick)
        names = [_field(n, hmis_config, i, "first_name") for i in range(3)]
        margins.append(_dice(names[0], names[1]) - _dice(names[0], names[2]))
    assert float(np.mean(margins)) > 0.1
    assert fd(0, 3, "last_name") > 0.5 and fd(0, 4, "last_name") > 0.5
    # a last 4 only has no first five (missing), and its last 4 agree with the full SSN's
    assert not _field(c, hmis_config, 5, "ssn").any()
    assert fd(0, 5, "ssn_last4") == fd(5, 6, "ssn_last4") == 1.0
    assert fd(0, 6, "ssn") < LEVELS[2]  # other first five: "low"


def test_a_digit_tokeniser_takes_the_last_four_digits_or_the_rest() -> None:
    assert digit_positions("123456789", "last4") == ["0:9", "1:8", "2:7", "3:6"]
    assert digit_positions("123456789", "rest") == ["4:5", "5:4", "6:3", "7:2", "8:1"]
    assert digit_positions("6789", "rest") == []
    assert len(digit_positions("123456789")) == 9


def _columns(config: Config, path):
    return list(iter_columns(config, path, block_bytes=9000))


def test_fast_paths_and_cache_bounds_match_reference(
    hmis_config, secret, network, monkeypatch
) -> None:
    chunks = _columns(hmis_config, network[0])
    fast = Encoder(hmis_config, secret, today=TODAY)
    out_fast = [fast.encode(v, q) for v, q in chunks]
    monkeypatch.setattr(encoder_module, "MAX_CACHED_VALUES", 50)
    slow = Encoder(hmis_config, secret, today=TODAY)
    for state in slow._fields:
        state.direct = ""  # SSN and DOB through the general per-value path
    out_slow = [slow.encode(v, q) for v, q in chunks]
    for a, b in zip(out_fast, out_slow, strict=True):
        assert np.array_equal(a.clks, b.clks)
        assert np.array_equal(a.field_clks, b.field_clks)
        for name in FIELDS:
            assert np.array_equal(a.status_counts[name], b.status_counts[name])


def test_salting_changes_bits_and_needs_same_year(hmis_config, secret) -> None:
    from dataclasses import replace

    salted = replace(hmis_config, salt_field="dob")
    rows = [PERSON, dict(PERSON, dob="1985-03-07"), dict(PERSON, dob="1984-03-08")]
    plain = _encode(hmis_config, secret, rows)
    salt = _encode(salted, secret, rows)
    assert not np.array_equal(plain.clks[0], salt.clks[0])
    # same year: names still agree; different year: nothing agrees beyond chance
    assert _dice(salt.clks[0], salt.clks[2]) > 0.8
    assert _dice(salt.clks[0], salt.clks[1]) < 0.4


@pytest.mark.parametrize("steps", [["balance"], ["rule90"], ["permute", "xor_fold"], ["blip"]])
def test_hardening_from_config(hmis_config, secret, steps) -> None:
    from dataclasses import replace

    from linkage.formats.config import HardeningStep

    hs = tuple(HardeningStep(s, 0.05 if s == "blip" else 0.0) for s in steps)
    cfg = replace(hmis_config, hardening=hs)
    chunk = _encode(
        cfg, secret, [PERSON, dict(PERSON, first_name="Mary")], rng=np.random.default_rng(0)
    )
    assert chunk.clks.shape[1] * 8 == cfg.output_length
    assert chunk.field_clks.shape[1] * 8 == cfg.output_field_length * len(cfg.fields)
    if steps == ["balance"]:
        assert (np.bitwise_count(chunk.clks).sum(axis=1) == cfg.output_length // 2).all()
    assert _dice(chunk.clks[0], chunk.clks[1]) > 0.6


def test_record_level_only_encodes_without_field_filters(hmis_config, secret) -> None:
    # score = "record" with field_length = 0 sends no field filters (it once failed on the
    # first name, whose values are hashed on the general path)
    from dataclasses import replace

    record_only = replace(
        hmis_config, field_length=0, match=replace(hmis_config.match, score="record")
    )
    rows = [PERSON, dict(PERSON, first_name="Mary")]
    chunk = _encode(record_only, secret, rows)
    assert chunk.field_clks is None
    assert chunk.clks.shape == (2, record_only.output_length // 8)
    assert 0.6 < _dice(chunk.clks[0], chunk.clks[1]) < 1.0
