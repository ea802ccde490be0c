from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from linkage.agency.encoding.keys import (
    SECRET_ENV,
    derive,
    format_secret,
    key_check_value,
    read_secret,
    write_secret,
)
from linkage.errors import LinkageError, SecretError


def _hkdf_rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """Independent HKDF-SHA256 (RFC 5869) to check the library call against."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def test_derive_is_hkdf_sha256_bound_to_fingerprint_and_purpose() -> None:
    secret = bytes(range(32))
    fp = "ab" * 32
    got = derive(secret, fp, "field/first_name", 64)
    assert got == _hkdf_rfc5869(secret, bytes.fromhex(fp), b"linkage/v1/field/first_name", 64)
    assert derive(secret, "cd" * 32, "field/first_name", 64) != got
    assert derive(secret, fp, "field/last_name", 64) != got


def test_key_check_value_known_answer() -> None:
    secret = bytes(range(32))
    expected = _hkdf_rfc5869(secret, b"linkage key check value", b"kcv/v1", 16).hex()
    assert key_check_value(secret) == expected == "d5e4c8f819347556345c9ee724e549ae"
    assert key_check_value(bytes(32)) != expected


def test_keygen_writes_private_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = read_secret(path)
    assert len(first) == 32
    with pytest.raises(LinkageError, match="already exists"):
        write_secret(path)
    write_secret(path, force=True)
    assert read_secret(path) != first


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, format_secret(bytes(range(32))))
    assert read_secret(None) == bytes(range(32))
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(SecretError, match="no secret given"):
        read_secret(None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("hello", "does not hold a linkage secret"),
        ("linkage-secret-v1:zz", "damaged"),
        ("linkage-secret-v1:abcd", "fewer than 256 bits"),
    ],
)
def test_bad_secret_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "k"
    path.write_text(content)
    with pytest.raises(SecretError, match=message):
        read_secret(path)
