from __future__ import annotations

import datetime as _dt

from hypothesis import given
from hypothesis import strategies as st

from linkage.agency.normalize import (
    Status,
    fold,
    name_parts,
    normalize_date,
    normalize_name,
    normalize_sex,
    normalize_ssn,
    ssn_digits_batch,
    ssn_is_valid,
)
from linkage.research.synthetic.population import make_people

TODAY = _dt.date(2026, 11, 1)


def test_names_fold_accents_case_and_punctuation() -> None:
    assert normalize_name("  Bélanger ").text == normalize_name("BELANGER").text == "belanger"
    assert normalize_name("O'Brien Jr.").text == "obrien"
    assert name_parts("Tremblay-Gagnon") == ("tremblay", "gagnon")
    assert name_parts("De La Cruz") == ("delacruz",)
    assert fold("Øyvind Straße") == "oyvind strasse"


def test_placeholder_names_and_quality_codes_are_missing() -> None:
    for raw in ("Unknown", "ANONYMOUS", "Doe", "", "  "):
        assert normalize_name(raw).status is Status.MISSING
    for code in ("8", "9", "99"):
        assert normalize_name("Marie", code).status is Status.MISSING
    street = normalize_name("Shorty", "2")
    assert street.status is Status.PARTIAL and street.text == "shorty"


@given(st.text(max_size=30))
def test_name_normalisation_is_idempotent_and_ascii(raw: str) -> None:
    value = normalize_name(raw)
    assert value.text.isascii()
    if value.text:
        again = normalize_name(value.text)
        assert again.text == value.text


def test_dates(hmis_config) -> None:
    spec = hmis_config.field("dob")
    assert normalize_date("1984-03-07", "1", spec, TODAY).text == "19840307"
    assert normalize_date("1900-01-01", "1", spec, TODAY).status is Status.MISSING
    assert normalize_date("1984-02-30", "1", spec, TODAY).status is Status.INVALID
    assert normalize_date("2030-01-05", "1", spec, TODAY).status is Status.INVALID
    jan1 = normalize_date("1984-01-01", "1", spec, TODAY)
    assert jan1.status is Status.PARTIAL and jan1.text == "1984"
    approx = normalize_date("1984-03-07", "2", spec, TODAY)
    assert approx.status is Status.PARTIAL and approx.text == "1984"
    assert normalize_date("1984-03-07", "99", spec, TODAY).status is Status.MISSING


def test_ssn_rules(hmis_config) -> None:
    spec = hmis_config.field("ssn")
    ssn = make_people(1, seed=5)[0].ssn  # generated, never a typed-in number
    assert normalize_ssn(f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}", "1", spec).text == ssn
    for placeholder in (
        "000123456",
        "666123456",
        "923456789",
        "458001234",
        "458120000",
        "111111111",
        "123456789",
        "078051120",
    ):
        assert not ssn_is_valid(placeholder)
        assert normalize_ssn(placeholder, "1", spec).status is Status.MISSING
    last4 = normalize_ssn("XXX-XX-6789", "2", spec)
    assert last4.status is Status.PARTIAL and last4.text == "6789"
    assert normalize_ssn("12345", "1", spec).status is Status.INVALID
    assert normalize_ssn(ssn, "9", spec).status is Status.MISSING


_ssn_cells = st.one_of(
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.text(alphabet="0123456789", min_size=4, max_size=4).map(lambda s: "XXXXX" + s),
    st.text(alphabet="0123456789", min_size=4, max_size=4).map(lambda s: "00000" + s),
    st.text(alphabet="0123456789", min_size=4, max_size=4).map(lambda s: "xxxxx" + s),
    st.text(alphabet="0123456789xX", min_size=9, max_size=9),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.text(alphabet="0123456789-X ", max_size=12),
    st.text(max_size=10),
    st.sampled_from(
        ["", "111111111", "123456789", "666000000", "١٢٣٤٥٦٧٨٩", "000001234", "000001111"]
    ),
)


@given(
    st.lists(st.tuples(_ssn_cells, st.sampled_from(["1", "2", "8", "9", "99", ""])), max_size=40)
)
def test_vectorised_ssn_agrees_with_reference(hmis_config, cells) -> None:
    spec = hmis_config.field("ssn")
    raws = [c for c, _ in cells]
    quals = [q for _, q in cells]
    status, digits = ssn_digits_batch(raws, quals, spec)
    for i, (raw, q) in enumerate(cells):
        ref = normalize_ssn(raw, q, spec)
        assert status[i] == ref.status, (raw, q)
        got = "".join(str(d) for d in digits[i][::-1] if d >= 0)
        assert got == ref.text, (raw, q)


def test_sex_codes() -> None:
    assert normalize_sex("0").text == "f" and normalize_sex("1").text == "m"
    assert normalize_sex("99").status is Status.MISSING
    assert normalize_sex("7").status is Status.INVALID


_date_cells = st.one_of(
    st.dates(_dt.date(1880, 1, 1), _dt.date(2030, 12, 31)).map(lambda d: d.isoformat()),
    st.dates(_dt.date(1880, 1, 1), _dt.date(2030, 12, 31)).map(
        lambda d: f"{d.isoformat()} 00:00:00"
    ),
    st.sampled_from(
        [
            "1900-01-01",
            "1984-01-01",
            "1984-02-30",
            "1983-02-29",
            "2000-02-29",
            "1984-13-01",
            "1984-00-10",
            " 1984-03-07",
            "84-03-07",
            "1984/03/07",
            "",
            "  ",
            "1984-3-7",
            "١٩٨٤-٠٣-٠٧",
            "2026-11-01",
            "2026-11-02",
        ]
    ),
    st.text(alphabet="0123456789-/ ", max_size=12),
)


@given(st.lists(st.tuples(_date_cells, st.sampled_from(["1", "2", "8", "99", ""])), max_size=30))
def test_vectorised_dates_agree_with_reference(hmis_config, cells) -> None:
    from linkage.agency.normalize import date_batch

    spec = hmis_config.field("dob")
    raws = [c for c, _ in cells]
    quals = [q for _, q in cells]
    status, ymd, year_only = date_batch(raws, quals, spec, TODAY)
    for i, (raw, q) in enumerate(cells):
        ref = normalize_date(raw, q, spec, TODAY)
        assert status[i] == ref.status, (raw, q)
        if ref.text:
            y, m, d = ymd[i]
            got = f"{y:04d}" if year_only[i] else f"{y:04d}{m:02d}{d:02d}"
            assert got == ref.text, (raw, q)


def test_vectorised_compact_dates_agree(febrl_config) -> None:
    from linkage.agency.normalize import date_batch

    spec = febrl_config.field("date_of_birth")
    raws = ["19560909", "19561309", "", "1956090", "20301231", "19000101", "19840101"]
    status, ymd, _year_only = date_batch(raws, None, spec, TODAY)
    for i, raw in enumerate(raws):
        ref = normalize_date(raw, "", spec, TODAY)
        assert status[i] == ref.status
        if ref.text:
            assert f"{ymd[i][0]:04d}{ymd[i][1]:02d}{ymd[i][2]:02d}"[: len(ref.text)] == ref.text
