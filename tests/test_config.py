from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from linkage.config import builtin_config_path, load_config, parse_config
from linkage.errors import ConfigError


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
    assert parse_config(raw).fingerprint == parse_config(_raw()).fingerprint


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(colour="blue"), "unknown key 'colour'"),
        (lambda d: d["fields"][0].update(wieght=3), "unknown key 'wieght'"),
        (lambda d: d["fields"][0]["tokens"][0].update(type="bogus"), "'type' is 'bogus'"),
        (lambda d: d["filter"].update(length=1000), "multiple of 64"),
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (
            lambda d: d["fields"][2]["tokens"].append({"type": "qgram", "weight": 3}),
            "does not apply",
        ),
        (lambda d: d.update(salt={"field": "nope"}), "salt field 'nope'"),
        (lambda d: d["fields"].append(dict(d["fields"][0])), "defined twice"),
        (lambda d: d["hardening"].append({"step": "blip"}), "blip needs"),
        (lambda d: d.update(thresholds={"upper": 0.5, "lower": 0.9}), "lower <= upper"),
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
