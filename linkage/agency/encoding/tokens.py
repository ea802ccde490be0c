"""Tokenisers: a normalised value becomes the set of strings that are hashed into bits.

Each tokeniser returns strings prefixed with its own tag (and its index within the field, added by
the caller), so that tokens of different tokenisers never collide in the same field.

Date tokens are positional (year, month, day) plus an unordered day-month pair, so a record with
day and month swapped still shares the year and pair tokens. Digit tokens are positions counted
from the right, so a full SSN and a last-4 SSN of the same person share four tokens.
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish
from nicknames import NickNamer

from linkage.formats.config import TokenSpec

_PAD = "_"


def qgrams(text: str, n: int, padding: bool) -> list[str]:
    """Overlapping q-grams of each hyphen-separated part, padded at both ends if asked."""
    grams: list[str] = []
    for part in text.split("-"):
        if padding:
            part = _PAD * (n - 1) + part + _PAD * (n - 1)
        if len(part) < n:
            grams.append(part)
            continue
        grams.extend(part[i : i + n] for i in range(len(part) - n + 1))
    return grams


_PHONETIC = {
    "soundex": jellyfish.soundex,
    "metaphone": jellyfish.metaphone,
    "nysiis": jellyfish.nysiis,
    "match_rating": jellyfish.match_rating_codex,
}


def phonetic(text: str, algorithm: str) -> list[str]:
    """Phonetic code of each part (``tremblay-gagnon`` gives two codes)."""
    code = _PHONETIC[algorithm]
    return [code(part) for part in text.replace(" ", "-").split("-") if part and part.isalpha()]


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


def canonical_names(part: str, limit: int) -> list[str]:
    """The canonical forms of a given name: ``bill`` gives ``william``; a canonical name itself.

    A nickname shared by more than ``limit`` canonical names (``al``) is too ambiguous to help
    and yields nothing.
    """
    nn = _nicknamer()
    found = set(nn.canonicals_of(part))
    if nn.nicknames_of(part):
        found.add(part)
    if not found or len(found) > limit:
        return []
    return sorted(found)


def nickname_tokens(text: str, limit: int) -> list[str]:
    """Canonical-name tokens for every part of a (possibly hyphenated) given name."""
    out: list[str] = []
    for part in text.split("-"):
        out.extend(canonical_names(part, limit))
    return out


def date_part(text: str, part: str) -> list[str]:
    """One positional token of a ``YYYYMMDD`` (or year-only ``YYYY``) date."""
    year = text[:4]
    if part == "year":
        return [year]
    if part == "decade":
        return [year[:3]]
    if len(text) < 8:
        return []
    month, day = text[4:6], text[6:8]
    if part == "month":
        return [month]
    if part == "day":
        return [day]
    return ["".join(sorted((month, day)))]


def digit_token(position: int, digit: str | int) -> str:
    """The token of one digit at ``position`` counted from the right."""
    return f"{position}:{digit}"


def digit_positions(text: str, part: str = "") -> list[str]:
    """Position-from-the-right plus digit: ``1234`` gives ``0:4 1:3 2:2 3:1``; ``part`` keeps
    the last four digits or the rest, so an SSN's last 4 can be a field of its own."""
    return [digit_token(i, c) for i, c in enumerate(reversed(text)) if digit_kept(i, part)]


def digit_kept(position: int, part: str) -> bool:
    """Whether a digit ``position`` places from the right belongs to ``part`` (all if unset)."""
    return not part or (position < 4) == (part == "last4")


def tokenize(text: str, spec: TokenSpec) -> list[str]:
    """Tokens of one normalised value for one tokeniser (without the field-level prefix)."""
    kind = spec.type
    if kind == "qgram":
        return qgrams(text, spec.n, spec.padding)
    if kind == "phonetic":
        return phonetic(text, spec.algorithm)
    if kind == "nickname":
        return nickname_tokens(text, spec.max_canonicals)
    if kind == "date_part":
        return date_part(text, spec.part)
    if kind == "digit_position":
        return digit_positions(text, spec.part)
    return [text]
