"""Keyed blocking keys: each is the documented digest of a record's normalised parts (cut
from the texts the encoder normalised: its vectorised SSN and date paths included), and
remembering texts, parts and digests from chunk to chunk never changes one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import numpy as np
import pytest

from linkage.agency.encoding import blocking_keys
from linkage.agency.encoding.blocking_keys import BlockingKeyMaker
from linkage.agency.encoding.encoder import Encoder
from linkage.agency.encoding.keys import derive
from linkage.agency.encoding.tokens import phonetic
from linkage.agency.normalize import Status, normalize
from linkage.formats.config import BlockingKey, Config

TODAY = dt.date(2026, 11, 1)
SECRET = b"s" * 32
#: Synthetic rows (first, last, dob, ssn), repeats and gaps on purpose.
ROWS = [
    ("Ana", "Tremblay", "1980-02-03", "123-45-6789"),
    ("Ana", "Tremblay", "1980-02-03", "123-45-6789"),
    ("Bo", "Gagnon", "", "4321"),
    ("Cy", "Tremblay", "1980-07-09", ""),
    ("Di", "", "1999-01-05", "987654321"),
    ("Ana", "TREMBLAY", "1980-02-03", "523456789"),
    ("Ed", "Lee", "2031-01-01", "000000000"),  # a birth date in the future: invalid
    ("Fay", "O'Neil-Smith", "19800203", " 123 45 6789 "),  # the slow paths of both batches
    ("Gus", "Lee", "1975-01-01", "000001234"),  # 1 January: year only; an SSN's last 4
]


def _columns(config: Config, rows: list[tuple[str, ...]]):
    by_field = {"first_name": 0, "last_name": 1, "dob": 2, "ssn": 3}
    columns = [
        [r[by_field[f.name]] if f.name in by_field else "" for r in rows] for f in config.fields
    ]
    qualities = [["1"] * len(rows) if f.quality_column else None for f in config.fields]
    return columns, qualities


def _expected(config: Config, key: BlockingKey, row: tuple[str, ...]) -> int:
    """The digest as docs/security.md describes it (keyed 64-bit BLAKE2b of the key's name and
    its normalised parts), computed here from the parts on their own."""
    by_field = {"first_name": 0, "last_name": 1, "dob": 2, "ssn": 3}
    values = []
    for part in key.parts:
        name, _, transform = part.partition(":")
        value = normalize(row[by_field[name]], "1", config.field(name), TODAY)
        text = value.text if value.status in (Status.PRESENT, Status.PARTIAL) else ""
        if text and transform in ("soundex", "metaphone"):
            codes = phonetic(text.replace(" ", "-").split("-", 1)[0], transform)
            text = codes[0] if codes else ""
        elif text and transform == "initial":
            text = text[:1]
        elif text and transform == "year":
            text = text[:4]
        elif text and transform == "last4":
            text = text[-4:]
        values.append(text)
    if not all(values):
        return 0
    digest = hashlib.blake2b(
        ("\x1f".join([key.name, *values])).encode(),
        digest_size=8,
        key=derive(SECRET, config.fingerprint, "blocking", 32),
    ).digest()
    return int.from_bytes(digest, "little") or 1


def _keys(config: Config, rows, chunk: int) -> np.ndarray:
    """The keys as the pipeline makes them: from the texts the encoder normalised."""
    encoder = Encoder(config, SECRET, today=TODAY)
    maker = BlockingKeyMaker(config, SECRET)
    parts = [
        maker.keys(encoder.encode(*_columns(config, rows[i : i + chunk])).texts)
        for i in range(0, len(rows), chunk)
    ]
    return np.concatenate(parts).view("<u8").reshape(len(rows), len(config.blocking))


@pytest.fixture()
def four_parts(hmis_config: Config) -> Config:
    """The hmis keys and one of four parts, more than one integer holds."""
    extra = BlockingKey(
        "four", ("first_name:initial", "last_name:soundex", "dob:year", "ssn:last4")
    )
    return dataclasses.replace(hmis_config, blocking=(*hmis_config.blocking, extra))


def test_each_key_is_the_documented_digest_and_missing_parts_give_none(four_parts) -> None:
    got = _keys(four_parts, ROWS, len(ROWS))
    for r, row in enumerate(ROWS):
        for c, key in enumerate(four_parts.blocking):
            assert got[r, c] == _expected(four_parts, key, row), (r, key.name)
    assert got[0].tolist() == got[1].tolist()  # the same person's two records
    assert (got[2:5] == 0).any() and (got[6, :1] == 0).all()


def test_chunks_and_forgetting_change_no_key(four_parts, monkeypatch) -> None:
    rows = ROWS * 5
    whole = _keys(four_parts, rows, len(rows))
    assert np.array_equal(_keys(four_parts, rows, 3), whole)
    monkeypatch.setattr(blocking_keys, "_VALUES", 2)  # memos start afresh at every chunk
    monkeypatch.setattr(blocking_keys, "_COMBINATIONS", 1)
    assert np.array_equal(_keys(four_parts, rows, 2), whole)
