"""The error model: what an agency's record of a person gets wrong, and how often.

Every record carries the kinds of error real homeless-service data has (docs/hmis.md): typos,
nicknames, names swapped, street names, day and month swapped, placeholder dates and SSNs, a
last four digits only, each at a documented rate scaled by ``noise``
(docs/synthetic-data.md). A :class:`Recorder` applies them and counts what it applied.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections import Counter

from anyascii import anyascii
from nicknames import NickNamer

#: Rate of each error at noise = 1.0. Most are per record; ``hyphen_half`` applies to hyphenated
#: surnames only, ``accent_dropped`` to names with accents only, ``twin`` per person, and
#: ``duplicate`` is the chance that an agency holds a second record of a person it serves.
#: docs/synthetic-data.md gives the source of each figure.
ERROR_RATES: dict[str, float] = {
    "nickname": 0.10,
    "typo": 0.08,
    "phonetic": 0.04,
    "hyphen_half": 0.5,
    "accent_dropped": 0.3,
    "name_swap": 0.02,
    "street_name": 0.02,
    "name_missing": 0.01,
    "day_month_swap": 0.03,
    "jan1_default": 0.03,
    "dob_1900": 0.005,
    "year_off_by_one": 0.02,
    "dob_missing": 0.06,
    "ssn_missing": 0.30,
    "ssn_last4": 0.25,
    "ssn_placeholder": 0.02,
    "ssn_typo": 0.02,
    "duplicate": 0.05,
    "twin": 0.015,
}

#: Street names and aliases recorded with NameDataQuality 2. Not a name table: a handful of
#: the code names outreach workers record, so that they collide across unrelated people.
_ALIASES = ("Red", "Tex", "Shorty", "Doc", "Smokey", "Slim", "Bear", "Lucky", "Chief", "Blue")
_PLACEHOLDERS = (("Unknown", "Unknown"), ("Anonymous", "Client"), ("John", "Doe"))
_SSN_PLACEHOLDERS = ("000000000", "999999999", "123456789", "111111111", "078051120")
#: Spelling by ear: one rule applied where it fits (Catherine -> Katherine, Philip -> Filip).
_PHONETIC = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("c", "k"),
    ("k", "c"),
    ("y", "i"),
    ("i", "y"),
    ("ee", "ea"),
    ("ou", "ow"),
    ("s", "z"),
    ("th", "t"),
    ("ll", "l"),
    ("nn", "n"),
    ("ie", "y"),
    ("ey", "y"),
    ("er", "ar"),
)


def _typo(rng: random.Random, text: str) -> str:
    """Delete, transpose or replace one inner letter (first and last letters are kept)."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.random()
    if op < 0.33:
        return text[:i] + text[i + 1 :]
    if op < 0.66:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeioulnrst") + text[i + 1 :]


def _phonetic(rng: random.Random, text: str) -> str:
    lower = text.lower()
    fits = [(a, b) for a, b in _PHONETIC if a in lower]
    if not fits:
        return text
    a, b = fits[rng.randrange(len(fits))]
    at = lower.index(a)
    out = lower[:at] + b + lower[at + len(a) :]
    return out.capitalize() if text[:1].isupper() else out


class Recorder:
    """Applies the error model to one person to produce one agency record, and counts what it
    applied (the realised rates go into the manifest)."""

    def __init__(self, rng: random.Random, noise: float) -> None:
        self.rng = rng
        self.rate = {k: min(1.0, v * noise) for k, v in ERROR_RATES.items()}
        self.applied: Counter[str] = Counter()
        self._nick = NickNamer()
        self._nicknames: dict[str, list[str]] = {}

    def hit(self, error: str) -> bool:
        if self.rng.random() < self.rate[error]:
            self.applied[error] += 1
            return True
        return False

    def nicknames(self, first: str) -> list[str]:
        found = self._nicknames.get(first)
        if found is None:
            found = sorted(n.capitalize() for n in self._nick.nicknames_of(first.lower()))
            self._nicknames[first] = found
        return found

    def names(self, first: str, last: str) -> tuple[str, str, str]:
        rng = self.rng
        if self.hit("name_missing"):
            if rng.random() < 0.5:
                return "", "", rng.choice(("8", "9", "99"))
            placeholder = _PLACEHOLDERS[rng.randrange(len(_PLACEHOLDERS))]
            return placeholder[0], placeholder[1], "99"
        if self.hit("street_name"):
            return rng.choice(_ALIASES), last if rng.random() < 0.5 else "", "2"
        nicks = self.nicknames(first)
        if nicks and self.hit("nickname"):
            first = rng.choice(nicks)
        if "-" in last and self.hit("hyphen_half"):
            last = rng.choice(last.split("-"))
        if not (first + last).isascii() and self.hit("accent_dropped"):
            first, last = anyascii(first), anyascii(last)
        if self.hit("typo"):
            if rng.random() < 0.5:
                first = _typo(rng, first)
            else:
                last = _typo(rng, last)
        if self.hit("phonetic"):
            if rng.random() < 0.5:
                first = _phonetic(rng, first)
            else:
                last = _phonetic(rng, last)
        if self.hit("name_swap"):
            first, last = last, first
        return first, last, "1"

    def dob(self, birth: int) -> tuple[str, str]:
        rng = self.rng
        d = _dt.date.fromordinal(birth)
        if self.hit("dob_missing"):
            return "", rng.choice(("8", "9", "99"))
        if self.hit("dob_1900"):
            return "1900-01-01", "2"
        if self.hit("jan1_default"):
            return f"{d.year}-01-01", "2"
        if d.day <= 12 and d.day != d.month and self.hit("day_month_swap"):
            return f"{d.year}-{d.day:02d}-{d.month:02d}", "1"
        if self.hit("year_off_by_one"):
            year = d.year + rng.choice((-1, 1))
            day = min(d.day, 28) if d.month == 2 else d.day
            return f"{year}-{d.month:02d}-{day:02d}", "1"
        return d.isoformat(), "1"

    def ssn(self, ssn: int) -> tuple[str, str]:
        rng = self.rng
        digits = f"{ssn:09d}"
        if self.hit("ssn_missing"):
            return "", rng.choice(("8", "9", "99"))
        if self.hit("ssn_last4"):
            return "xxxxx" + digits[-4:], "2"
        if self.hit("ssn_placeholder"):
            return rng.choice(_SSN_PLACEHOLDERS), "1"
        if self.hit("ssn_typo"):
            i = rng.randrange(8)
            return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :], "1"
        return digits, "1"
