"""The shared secret and everything derived from it.

The secret never appears on a command line: it is read from a file (``linkage keygen`` writes one,
mode 0600) or from the ``LINKAGE_SECRET`` environment variable. Every key actually used is derived
from it with HKDF-SHA256, bound to the config fingerprint, so the same secret under two configs
gives unrelated keys. The key check value is derived without the fingerprint, so the coordinator
can tell "different secret" from "different config" without learning either.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage._atomic import atomic_write
from linkage.errors import LinkageError, SecretError
from linkage.formats.household import PSEUDONYM_MASK

SECRET_ENV = "LINKAGE_SECRET"
SECRET_BYTES = 32
_PREFIX = "linkage-secret-v1:"
_HINT = "make one with 'linkage keygen -o FILE' and share it with partner agencies only"


def generate_secret() -> bytes:
    """A fresh 256-bit secret from the operating system's CSPRNG."""
    return secrets.token_bytes(SECRET_BYTES)


def format_secret(secret: bytes) -> str:
    """The text form written to secret files and accepted in ``LINKAGE_SECRET``."""
    return _PREFIX + secret.hex() + "\n"


def parse_secret(text: str, where: str) -> bytes:
    """Decode the text form of a secret; ``where`` names its origin for the error message."""
    body = text.strip()
    if not body:
        raise SecretError(f"{where} is empty", _HINT)
    if not body.startswith(_PREFIX):
        raise SecretError(f"{where} does not hold a linkage secret", _HINT)
    try:
        secret = bytes.fromhex(body[len(_PREFIX) :])
    except ValueError:
        raise SecretError(f"{where} is damaged (not hexadecimal)", _HINT) from None
    if len(secret) < SECRET_BYTES:
        raise SecretError(f"{where} holds fewer than {SECRET_BYTES * 8} bits", _HINT)
    return secret


def write_secret(path: Path, force: bool = False) -> None:
    """Write a new secret to ``path`` with mode 0600, refusing to replace one unless forced."""
    if path.exists() and not force:
        raise LinkageError(
            f"{path} already exists",
            "replacing a shared secret breaks linkage with every partner; pass --force to do it",
        )
    with atomic_write(path, mode=0o600) as fh:
        fh.write(format_secret(generate_secret()).encode())


def exposure(secret_file: Path) -> str | None:
    """Why the secret file is open to others on this machine (group or other may read or
    write it), or None: said as a warning, since the file still works."""
    try:
        mode = secret_file.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"the secret file {secret_file} can be read or changed by other users of this machine "
        f"(mode {mode:o}); run: chmod 600 {secret_file}"
    )


def read_secret(secret_file: Path | None) -> bytes:
    """The secret from ``secret_file``, else from the ``LINKAGE_SECRET`` environment variable."""
    if secret_file is not None:
        try:
            text = secret_file.read_text(encoding="ascii")
        except FileNotFoundError:
            raise SecretError(f"secret file {secret_file} not found", _HINT) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(
                f"secret file {secret_file} cannot be read ({exc.__class__.__name__})", _HINT
            ) from None
        return parse_secret(text, f"secret file {secret_file}")
    env = os.environ.get(SECRET_ENV)
    if env is None:
        raise SecretError(f"no secret given: use --secret-file FILE or set {SECRET_ENV}", _HINT)
    return parse_secret(env, f"environment variable {SECRET_ENV}")


def derive(secret: bytes, fingerprint: str, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose (a field, a hardening step...) under one config."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=bytes.fromhex(fingerprint),
        info=b"linkage/v1/" + purpose.encode(),
    ).derive(secret)


def key_check_value(secret: bytes) -> str:
    """A one-way 128-bit tag of the secret: equal tags mean the same secret, nothing more."""
    tag = HKDF(
        algorithm=hashes.SHA256(), length=16, salt=b"linkage key check value", info=b"kcv/v1"
    ).derive(secret)
    return tag.hex()


def record_id_key(secret: bytes, agency: str) -> bytes:
    """Key for pseudonymous record ids: independent of the config, so ids stay stable when the
    config changes, and specific to the agency, so two agencies' pseudonyms never coincide."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"linkage record ids", info=agency.encode()
    ).derive(secret)


def household_key(secret: bytes, agency: str) -> bytes:
    """Key for household pseudonyms: like :func:`record_id_key`, independent of the config and
    specific to the agency (household ids are agency-local: two agencies' equal ids are two
    households, and their pseudonyms must not say they are equal)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"linkage households", info=agency.encode()
    ).derive(secret)


def household_pseudonyms(key: bytes, household_ids: list[str]) -> npt.NDArray[np.int64]:
    """Each household id's pseudonym (:mod:`linkage.formats.household`): 63 bits of its HMAC,
    never 0, which means no household, as it does for an empty id."""
    out = np.zeros(len(household_ids), np.int64)
    for i, household in enumerate(household_ids):
        if household:
            digest = hmac.new(key, household.encode(), hashlib.sha256).digest()
            out[i] = (int.from_bytes(digest[:8], "little") & PSEUDONYM_MASK) or 1
    return out
