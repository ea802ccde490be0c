from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import linkage.formats.config as config_module
from linkage.errors import ConfigError
from linkage.formats.config import builtin_config_path, load_config, parse_config


def _raw(name: str = "hmis") -> dict[str, Any]:
    return tomllib.loads(builtin_config_path(name).read_text())


def test_shipped_configs_validate(hmis_config, febrl_config) -> None:
    assert hmis_config.name == "hmis" and febrl_config.name == "febrl"
    assert hmis_config.output_length == 1024  # 2048 folded once
    assert {f.name for f in hmis_config.fields} >= {"first_name", "last_name", "dob", "ssn"}


def test_fingerprint_ignores_column_names_but_not_weights() -> None:
    base = parse_config(_raw())
    renamed = _raw()
    renamed["fields"][0]["column"] = "GivenName"
    renamed["input"]["id_column"] = "ClientNo"
    assert parse_config(renamed).fingerprint == base.fingerprint
    reweighted = _raw()
    reweighted["fields"][0]["tokens"][0]["weight"] += 1
    assert parse_config(reweighted).fingerprint != base.fingerprint
    hardened = _raw()
    hardened["hardening"].append({"step": "rule90"})
    assert parse_config(hardened).fingerprint != base.fingerprint


def test_fingerprint_ignores_matcher_thresholds() -> None:
    raw = _raw()
    raw["thresholds"] = {"upper": 0.9, "lower": 0.75}
    raw["match"] = {"score": "record", "blocking": "lsh", "max_cluster": 5}
    raw["bynamelist"] = {"inactive_after_days": 30, "share_known_elsewhere": True}
    parsed = parse_config(raw)
    assert parsed.bynamelist.inactive_after_days == 30 and parsed.bynamelist.suppress_below == 10
    assert parsed.fingerprint == parse_config(_raw()).fingerprint
    raw["blocking"].pop()  # blocking keys set bytes in the upload: they are in it
    assert parse_config(raw).fingerprint != parse_config(_raw()).fingerprint


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(colour="blue"), "unknown key 'colour'"),
        (lambda d: d["fields"][0].update(wieght=3), "unknown key 'wieght'"),
        (lambda d: d.update(bynamelist={"inactive_after_days": 0}), "'inactive_after_days' must"),
        (lambda d: d.update(bynamelist={"supress_below": 5}), "unknown key 'supress_below'"),
        (lambda d: d["fields"][0]["tokens"][0].update(type="bogus"), "'type' is 'bogus'"),
        (lambda d: d["filter"].update(length=1000), "multiple of 64"),
        (lambda d: d["filter"].update(length=1_000_000_000), "from 64 to 65536"),
        (lambda d: d["filter"].update(field_length=1 << 24), "up to 65536"),
        (lambda d: d["fields"].extend([d["fields"][0]] * 64), r"1 to 64 \[\[fields"),
        (lambda d: d.update(blocking=[d["blocking"][0]] * 65), r"at most 64 \[\[blocking"),
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (
            lambda d: d["fields"][2]["tokens"].append({"type": "qgram", "weight": 3}),
            "does not apply",
        ),
        (lambda d: d.update(salt={"field": "nope"}), "salt field 'nope'"),
        (lambda d: d["fields"].append(dict(d["fields"][0])), "defined twice"),
        (lambda d: d["hardening"].append({"step": "blip"}), "blip needs"),
        (lambda d: d.update(thresholds={"upper": 0.5, "lower": 0.9}), "lower <= upper"),
        (lambda d: d["thresholds"].update(candidate=1.5), "'candidate' must be in"),
        (
            lambda d: d.update(
                match={"score": "record"},
                thresholds={"upper": 0.8, "lower": 0.7, "candidate": 0.75},
            ),
            "must not exceed 'lower'",
        ),
        (lambda d: d["match"].update(score="best"), "'score' is 'best'"),
        (lambda d: d["match"].update(blocking="fast"), "'blocking' is 'fast'"),
        (lambda d: d["match"].update(max_cluster=1), "'max_cluster' must be at least 2"),
        (lambda d: d["match"].update(min_support=1.0), "'min_support' must be in"),
        (lambda d: d["match"].update(all_pairs_limit=-1), "'all_pairs_limit'"),
        (lambda d: d["thresholds"].update(key_candidate=0.9), "'key_candidate' must be in"),
        (lambda d: d["thresholds"].update(key_candidate=0.0), "'key_candidate' must be in"),
        (lambda d: d["match"].update(key_block=1), "'key_block' must be from 2"),
        (lambda d: d["match"].update(key_block=5000), "'key_block' must be from 2"),
        (lambda d: d["hardening"].append({"step": "balance"}), "cannot tell a missing field"),
        (
            lambda d: (
                d["match"].update(score="weights"),
                d["hardening"].append({"step": "balance"}),
            ),
            "score = 'weights' cannot tell a missing field",
        ),
        (
            lambda d: (d["match"].update(score="fields"), d["filter"].update(field_length=0)),
            "score = 'fields' needs field-level filters",
        ),
        (lambda d: d["filter"].update(field_length=0), "needs field-level filters"),
        (lambda d: d["blocking"][0].update(parts=["dob:soundex"]), "does not apply to a date"),
        (lambda d: d["blocking"][0].update(parts=["dob:reverse"]), "unknown transform"),
        (lambda d: d["blocking"][0].update(parts=["height"]), "names no defined field"),
        (lambda d: d["blocking"][0].update(parts=[]), "has no parts"),
        (lambda d: d["fields"][1].pop("group"), "group 'names' has one field"),
        (lambda d: d["fields"][2].update(group="names"), "'group' applies to name"),
    ],
)
def test_invalid_configs_name_the_problem(mutate, expected: str) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(ConfigError, match=expected):
        parse_config(raw, "x.toml")


def test_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_each_older_hmis_config_is_the_next_one_with_its_change_taken_out() -> None:
    """hmis-3, hmis-2 and hmis-1 are kept for stores made before 0.4, 0.3 and 0.2: each must
    encode exactly as hmis did then. 0.4 split the SSN (its last 4 became their own field);
    0.3 split the date of birth (the birthday became its
    own field); 0.2 grouped the names. A setting added later, when absent, leaves a config's
    fingerprint as it was."""
    configs = [parse_config(_raw(name)) for name in ("hmis", "hmis-3", "hmis-2", "hmis-1")]
    new, three, two, one = configs
    assert len({c.fingerprint for c in configs}) == 4
    assert new.joined == ((2, 3), (4, 5)) and three.joined == ((2, 3),) and not two.joined
    whole = _raw()
    fields = whole["fields"]
    ssn = next(f for f in fields if f["name"] == "ssn")
    last4 = next(f for f in fields if f["name"] == "ssn_last4")
    fields.remove(last4)
    ssn["tokens"] = [{k: v for k, v in ssn["tokens"][0].items() if k != "part"}]
    assert parse_config(whole).fingerprint == three.fingerprint
    merged = _raw("hmis-3")
    fields = merged["fields"]
    dob = next(f for f in fields if f["name"] == "dob")
    birthday = next(f for f in fields if f["name"] == "birthday")
    fields.remove(birthday)
    for token in birthday["tokens"]:  # 0.2 weighted the unordered day and month at 16 bits
        dob["tokens"].append(dict(token, weight=16) if token["part"] == "day_month" else token)
    assert parse_config(merged).fingerprint == two.fingerprint
    assert two.crossed == ((0, 1),) and not one.crossed
    ungrouped = _raw("hmis-2")
    for f in ungrouped["fields"]:
        f.pop("group", None)
    assert parse_config(ungrouped).fingerprint == one.fingerprint


def test_part_applies_to_date_and_digit_tokenisers_with_their_own_parts() -> None:
    raw = _raw()
    ssn = next(f for f in raw["fields"] if f["name"] == "ssn")
    ssn["tokens"][0]["part"] = "year"
    with pytest.raises(ConfigError, match="expected one of last4, rest"):
        parse_config(raw)
    raw = _raw()
    first = next(f for f in raw["fields"] if f["name"] == "first_name")
    first["tokens"][0]["part"] = "last4"
    with pytest.raises(ConfigError, match="unknown key 'part'"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"part_of": "nobody"}, "names no earlier field"),
        ({"part_of": "first_name"}, "must name a field of kind 'date'"),
        (
            {
                "kind": "text",
                "partial": "keep",
                "jan1": "keep",
                "tokens": [{"type": "exact", "weight": 8}],
            },
            "of kind 'text'",
        ),
    ],
)
def test_a_part_must_name_an_earlier_whole_of_its_kind(change: dict[str, Any], said: str) -> None:
    raw = _raw()
    birthday = next(f for f in raw["fields"] if f["name"] == "birthday")
    birthday.update(change)
    with pytest.raises(ConfigError, match=said):
        parse_config(raw)
    twice = _raw()  # a whole takes one part
    again = next(f for f in twice["fields"] if f["name"] == "birthday")
    twice["fields"].append(dict(again, name="birthday_again"))
    with pytest.raises(ConfigError, match="has no other part"):
        parse_config(twice)


def test_a_newer_schema_keeps_every_fingerprint(monkeypatch) -> None:
    """A schema bump that encodes the same bits must not orphan the uploads and stores made
    before it: the print is over the encoding, not over the document's version."""
    before = {name: parse_config(_raw(name)).fingerprint for name in ("hmis", "hmis-1", "febrl")}
    monkeypatch.setattr(config_module, "SCHEMA_VERSION", 2)
    for name, print_ in before.items():
        bumped = _raw(name)
        bumped["schema_version"] = 2
        assert parse_config(bumped).fingerprint == print_, name


def test_a_schema_version_is_refused_in_words() -> None:
    newer = _raw()
    newer["schema_version"] = 2
    with pytest.raises(ConfigError) as refused:
        parse_config(newer, "agency.toml")
    said = refused.value.one_line()
    assert "agency.toml" in said and "newer than this linkage" in said and "upgrade" in said
    never = _raw()
    never["schema_version"] = 0
    with pytest.raises(ConfigError, match="was never a config schema"):
        parse_config(never)


def test_a_built_in_config_is_named_where_a_file_is_expected(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config("hmis-1").name == "hmis-1"
    with pytest.raises(ConfigError) as refused:
        load_config("hmis-0")
    assert "not found" in refused.value.one_line()
    assert "febrl, hmis, hmis-1, hmis-2, hmis-3" in refused.value.one_line()
    (tmp_path / "hmis-1").write_text('name = "x"')  # a file of that name comes first
    with pytest.raises(ConfigError, match="schema_version"):
        load_config("hmis-1")
