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

import numpy as np
import numpy.typing as npt

from linkage.config import BLOCKING_TRANSFORMS, BlockingKey, Config
from linkage.encoding.keys import derive
from linkage.encoding.tokens import phonetic
from linkage.normalize import Status, normalize


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
        self._parts: dict[tuple[str, str, str], str] = {}

    def _part(self, spec_name: str, transform: str, raw: str, quality: str) -> str:
        cache_key = (spec_name, raw, quality)
        text = self._parts.get(cache_key)
        if text is None:
            value = normalize(raw, quality, self.config.field(spec_name), self.today)
            text = value.text if value.status in (Status.PRESENT, Status.PARTIAL) else ""
            if len(self._parts) > 1 << 20:
                self._parts.clear()
            self._parts[cache_key] = text
        return _TRANSFORM[transform](text) if text else ""

    def _one(
        self,
        key: BlockingKey,
        columns: Sequence[Sequence[str]],
        qualities: Sequence[Sequence[str] | None],
        n: int,
    ) -> npt.NDArray[np.uint64]:
        parts = []
        for part in key.parts:
            name, _, transform = part.partition(":")
            pos = self.position[name]
            quals = qualities[pos]
            raws = columns[pos]
            parts.append(
                [
                    self._part(name, transform or "value", raws[r], quals[r] if quals else "")
                    for r in range(n)
                ]
            )
        out = np.zeros(n, np.uint64)
        prefix = key.name.encode() + b"\x1f"
        for r, values in enumerate(zip(*parts, strict=True)):
            if all(values):
                digest = hashlib.blake2b(
                    prefix + "\x1f".join(values).encode(), digest_size=8, key=self.key
                ).digest()
                out[r] = int.from_bytes(digest, "little") or 1
        return out

    def keys(
        self, columns: Sequence[Sequence[str]], qualities: Sequence[Sequence[str] | None]
    ) -> npt.NDArray[np.uint8]:
        """(records x 8 bytes per key): the section as it is written to the .clk file."""
        n = len(columns[0]) if columns else 0
        out = np.zeros((n, len(self.config.blocking)), np.uint64)
        for c, key in enumerate(self.config.blocking):
            out[:, c] = self._one(key, columns, qualities, n)
        return out.astype("<u8").view(np.uint8).reshape(n, 8 * len(self.config.blocking))
