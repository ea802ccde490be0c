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

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.agency.encoding.encoder import Texts
from linkage.agency.encoding.keys import derive
from linkage.agency.encoding.tokens import phonetic
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


#: Distinct texts a field may have remembered before every memo starts afresh (bounds memory
#: on a long export: about 100 MB a field), and part combinations a key keeps digests of (32
#: MB a key).
_VALUES = 1 << 20
_COMBINATIONS = 1 << 21
_NO_DIGESTS = np.zeros(0, np.uint64)


class BlockingKeyMaker:
    """Computes every configured blocking key for chunks of records, from the normalised
    texts the encoder made of them (``EncodedChunk.texts``), so that no value is normalised
    twice.

    Work is done once per distinct text, not once per record. Each distinct text of a field
    gets a number; each number is cut into its parts once (a part is numbered too, 0 being
    the missing part); each distinct combination of a key's parts is digested once. All of it
    is remembered from chunk to chunk, so a record costs a lookup per field and array
    indexing; names, birth dates and SSN endings repeat across a community's records, and the
    digests of their combinations with them."""

    def __init__(self, config: Config, secret: bytes) -> None:
        self.config = config
        self.key = derive(secret, config.fingerprint, "blocking", 32)
        self._started = {}
        for key in config.blocking:
            self._started[key.name] = hashlib.blake2b(digest_size=8, key=self.key)
            self._started[key.name].update((key.name + "\x1f").encode())
        self._forget()

    def _forget(self) -> None:
        # per field: normalised text -> number, and each number's text
        self._numbers: dict[str, dict[str, int]] = {}
        self._texts: dict[str, list[str]] = {}
        # per part: part -> number (0: ""), each number's part, and each field text's number
        self._part_numbers: dict[str, dict[str, int]] = {}
        self._parts: dict[str, list[str]] = {}
        self._part_of: dict[str, npt.NDArray[np.int64]] = {}
        # per key: the combinations of part numbers digested (sorted) and their digests
        self._digested: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]] = {}

    def keys(self, texts: Mapping[str, Texts]) -> npt.NDArray[np.uint8]:
        """(records x 8 bytes per key): the section as it is written to the .clk file, from
        the normalised values of every field the keys use."""
        if any(len(numbers) > _VALUES for numbers in self._numbers.values()):
            self._forget()
        n = len(next(iter(texts.values())).codes) if texts else 0
        numbered: dict[str, npt.NDArray[np.int64]] = {}
        parts: dict[str, npt.NDArray[np.int64]] = {}
        out = np.zeros((n, len(self.config.blocking)), "<u8")
        for c, key in enumerate(self.config.blocking):
            for part in key.parts:
                if part not in parts:
                    name = part.partition(":")[0]
                    if name not in numbered:
                        numbered[name] = self._number(name, texts[name])
                    parts[part] = self._cut(part)[numbered[name]]
            out[:, c] = self._digests(key, [parts[p] for p in key.parts])
        return out.view(np.uint8).reshape(n, 8 * len(self.config.blocking))

    def _number(self, name: str, column: Texts) -> npt.NDArray[np.int64]:
        """Each record's number for its text of field ``name``, numbering new texts."""
        numbers = self._numbers.setdefault(name, {})
        texts = self._texts.setdefault(name, [])
        got = list(map(numbers.get, column.texts))
        for at in [i for i, number in enumerate(got) if number is None]:
            text = column.texts[at]
            number = numbers[text] = len(texts)
            texts.append(text)
            got[at] = number
        return np.array(got, np.int64)[column.codes]

    def _cut(self, part: str) -> npt.NDArray[np.int64]:
        """The number of the part ``field:transform`` of each of the field's values."""
        name, _, transform = part.partition(":")
        texts = self._texts[name]
        table = self._part_of.get(part, np.zeros(0, np.int64))
        if len(table) < len(texts):
            apply = _TRANSFORM[transform or "value"]
            numbers = self._part_numbers.setdefault(part, {"": 0})
            known = self._parts.setdefault(part, [""])
            new = np.empty(len(texts) - len(table), np.int64)
            for i, text in enumerate(texts[len(table) :]):
                value = apply(text) if text else ""
                number = numbers.get(value)
                if number is None:
                    number = numbers[value] = len(known)
                    known.append(value)
                new[i] = number
            table = self._part_of[part] = np.concatenate([table, new])
        return table

    def _digests(self, key: BlockingKey, numbers: list[npt.NDArray[np.int64]]) -> Any:
        """The keyed 64-bit digest of each record's parts; 0 where any part is missing."""
        if len(numbers) > 3:  # more parts than one integer holds: combinations numbered apart
            combos, inverse = np.unique(np.stack(numbers, axis=1), axis=0, return_inverse=True)
            found = [self._digest(key, c) for c in map(tuple, combos.tolist())]
            return np.array(found, np.uint64)[inverse.reshape(-1)]
        combined = np.zeros(len(numbers[0]), np.int64)
        for part in numbers:  # part numbers stay under 2**21 (see _VALUES)
            combined = (combined << 21) | part
        combos, inverse = np.unique(combined, return_inverse=True)
        known, digests = self._digested.get(key.name, (np.zeros(0, np.int64), _NO_DIGESTS))
        if len(known) > _COMBINATIONS:
            known, digests = np.zeros(0, np.int64), _NO_DIGESTS
        at = np.searchsorted(known, combos).clip(0, max(len(known) - 1, 0))
        hit = known[at] == combos if len(known) else np.zeros(len(combos), np.bool_)
        new = combos[~hit]
        if len(new):
            parts = [(new >> (21 * k)) & ((1 << 21) - 1) for k in reversed(range(len(numbers)))]
            fresh = [self._digest(key, c) for c in zip(*(p.tolist() for p in parts), strict=True)]
            known = np.concatenate([known, new])
            digests = np.concatenate([digests, np.array(fresh, np.uint64)])
            order = np.argsort(known, kind="stable")
            known, digests = known[order], digests[order]
            self._digested[key.name] = (known, digests)
        return digests[np.searchsorted(known, combos)][inverse.reshape(-1)]

    def _digest(self, key: BlockingKey, combo: tuple[int, ...]) -> int:
        """The keyed digest of one combination of part numbers (0 where a part is missing)."""
        if not all(combo):
            return 0
        texts = (self._parts[p][k] for p, k in zip(key.parts, combo, strict=True))
        # the key's name and separator hashed once, under the key: each digest copies that
        h = self._started[key.name].copy()
        h.update("\x1f".join(texts).encode())
        return int.from_bytes(h.digest(), "little") or 1  # 0 means "no key": 0 becomes 1
