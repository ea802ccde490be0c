"""Keyed blocking keys, computed at the agency from plaintext parts of a record.

A blocking key such as "Soundex of the surname + birth year" puts likely matches in the same
block, so the coordinator compares a million records in seconds instead of hours. The key is a
keyed BLAKE2b digest (64 bits) of the normalised parts, under a key derived from the shared
secret: the coordinator sees only which records share a key, never what the key was. A record
missing any part gets no key (0) under that blocking key, rather than a shared "empty" key that
would lump every incomplete record into one block.

What the coordinator learns: the sizes of blocks, that is a frequency table of (say) surname
codes by birth year. That is the price of blocking; docs/security.md weighs it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.agency.encoding.keys import derive
from linkage.agency.encoding.tokens import phonetic
from linkage.agency.normalize import Status, normalize
from linkage.formats.config import BLOCKING_TRANSFORMS, BlockingKey, Config


def _first_part(text: str) -> str:
    return text.replace(" ", "-").split("-", 1)[0]


def _phonetic(algorithm: str) -> Callable[[str], str]:
    def code(text: str) -> str:
        codes = phonetic(_first_part(text), algorithm)
        return codes[0] if codes else ""

    return code


_TRANSFORM: dict[str, Callable[[str], str]] = {
    "value": lambda text: text,
    "initial": lambda text: text[:1],
    "soundex": _phonetic("soundex"),
    "metaphone": _phonetic("metaphone"),
    "year": lambda text: text[:4],
    "last4": lambda text: text[-4:],
}
assert set(_TRANSFORM) == set(BLOCKING_TRANSFORMS)


class BlockingKeyMaker:
    """Computes every configured blocking key for chunks of raw columns."""

    def __init__(self, config: Config, secret: bytes, today: _dt.date) -> None:
        self.config = config
        self.today = today
        self.key = derive(secret, config.fingerprint, "blocking", 32)
        self.position = {f.name: i for i, f in enumerate(config.fields)}
        # per field: (raw, quality) -> normalised text; per (field, transform): text -> part.
        # Names and dates repeat, so each distinct value is normalised and transformed once.
        self._texts: dict[str, dict[tuple[str, str], str]] = {}
        self._parts: dict[tuple[str, str], dict[str, str]] = {}

    def _normalised(
        self, name: str, columns: Sequence[Sequence[str]], qualities: Sequence[Sequence[str] | None]
    ) -> list[str]:
        """Each record's normalised value of field ``name`` ("" when missing or invalid)."""
        spec = self.config.field(name)
        pos = self.position[name]
        raws, quals = columns[pos], qualities[pos]
        memo = _bounded(self._texts, name)
        out = []
        for key in zip(raws, quals if quals is not None else [""] * len(raws), strict=True):
            text = memo.get(key)
            if text is None:
                value = normalize(key[0], key[1], spec, self.today)
                ok = value.status in (Status.PRESENT, Status.PARTIAL)
                text = memo[key] = value.text if ok else ""
            out.append(text)
        return out

    def _column(self, part: str, texts: list[str]) -> list[str]:
        """Each record's blocking part ``field:transform`` from its normalised texts."""
        name, _, transform = part.partition(":")
        apply = _TRANSFORM[transform or "value"]
        memo = _bounded(self._parts, (name, transform))
        out = []
        for text in texts:
            value = memo.get(text)
            if value is None:
                value = memo[text] = apply(text) if text else ""
            out.append(value)
        return out

    def keys(
        self, columns: Sequence[Sequence[str]], qualities: Sequence[Sequence[str] | None]
    ) -> npt.NDArray[np.uint8]:
        """(records x 8 bytes per key): the section as it is written to the .clk file."""
        n = len(columns[0]) if columns else 0
        texts: dict[str, list[str]] = {}
        parts: dict[str, list[str]] = {}
        out = np.zeros((n, len(self.config.blocking)), "<u8")
        for c, key in enumerate(self.config.blocking):
            for part in key.parts:
                if part not in parts:
                    name = part.partition(":")[0]
                    if name not in texts:
                        texts[name] = self._normalised(name, columns, qualities)
                    parts[part] = self._column(part, texts[name])
            out[:, c] = self._digests(key, [parts[p] for p in key.parts], n)
        return out.view(np.uint8).reshape(n, 8 * len(self.config.blocking))

    def _digests(self, key: BlockingKey, parts: list[list[str]], n: int) -> npt.NDArray[np.uint64]:
        """The keyed 64-bit digest of each record's parts; 0 where any part is missing."""
        prefix = key.name + "\x1f"
        blake, secret, none = hashlib.blake2b, self.key, bytes(8)
        digests = [
            blake((prefix + "\x1f".join(values)).encode(), digest_size=8, key=secret).digest()
            if all(values)
            else none
            for values in zip(*parts, strict=True)
        ]
        out = np.frombuffer(b"".join(digests), "<u8").astype(np.uint64)
        present = np.ones(n, bool)
        for column in parts:
            present &= np.fromiter(map(bool, column), bool, n)
        out[present & (out == 0)] = 1  # 0 means "no key"; a digest of 0 (p = 2^-64) becomes 1
        return out


def _bounded(memos: dict[Any, dict[Any, str]], name: Any) -> dict[Any, str]:
    """The memo for ``name``, emptied once it holds a million values (bounds memory)."""
    memo = memos.setdefault(name, {})
    if len(memo) > 1 << 20:
        memo.clear()
    return memo
