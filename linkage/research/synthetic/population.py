"""A synthetic community's people: who they are, before any agency records them.

Names come from Faker's weighted locale tables (English US and French Canadian, see
:mod:`linkage.research.synthetic.names`), never from real records. The population is held as
arrays (a few dozen bytes a person), so a million people fit where their records would not;
:mod:`.noise` turns a person into one agency's record, :mod:`.exports` writes the agencies'
HMIS exports.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.research.synthetic.names import FRENCH_SHARE, locale_tables
from linkage.research.synthetic.noise import ERROR_RATES

#: Share of people with a hyphenated (double) surname.
HYPHENATED = 0.08
_BIRTH_FROM = _dt.date(1945, 1, 1).toordinal()
_BIRTH_DAYS = 365 * 63


@dataclass(frozen=True)
class Person:
    """One true person (a convenience view of one row of a :class:`Population`)."""

    first: str
    last: str
    dob: _dt.date
    ssn: str
    sex: int


@dataclass(frozen=True)
class Population:
    """Everyone in the community, as arrays: person ``i`` is row ``i`` of each."""

    first: list[str]
    last: list[str]
    birth: npt.NDArray[np.int64]  # proleptic Gregorian ordinal of the date of birth
    ssn: npt.NDArray[np.int64]
    sex: npt.NDArray[np.int8]  # 0 female, 1 male
    twin_of: npt.NDArray[np.int64]  # the person this one is a twin of, or -1

    def __len__(self) -> int:
        return len(self.first)

    def person(self, i: int) -> Person:
        dob = _dt.date.fromordinal(int(self.birth[i]))
        return Person(self.first[i], self.last[i], dob, f"{self.ssn[i]:09d}", int(self.sex[i]))


def make_population(n: int, seed: int, noise: float = 1.0) -> Population:
    """Draw ``n`` people: locale, sex, first name and surname from the weighted tables, some
    double surnames, birth dates for ages 16 to 80, valid SSNs, and twins (same surname and
    birth date, another first name) at the ``twin`` rate scaled by ``noise``."""
    rng = np.random.default_rng([seed, 0])
    french = rng.random(n) < FRENCH_SHARE
    sex = rng.integers(0, 2, n).astype(np.int8)
    first: list[str] = [""] * n
    last: list[str] = [""] * n
    for is_french, locale in ((False, "en_US"), (True, "fr_CA")):
        tables = locale_tables(locale)
        for s, kind in ((0, "female"), (1, "male")):
            rows = np.flatnonzero((french == is_french) & (sex == s))
            names = tables[kind].names
            for r, k in zip(
                rows.tolist(), tables[kind].sample(rng, len(rows)).tolist(), strict=True
            ):
                first[r] = names[k]
        rows = np.flatnonzero(french == is_french)
        surnames = tables["last"].names
        primary = tables["last"].sample(rng, len(rows))
        second = tables["last"].sample(rng, len(rows))
        double = (rng.random(len(rows)) < HYPHENATED) & (primary != second)
        for r, k, k2, d in zip(
            rows.tolist(), primary.tolist(), second.tolist(), double.tolist(), strict=True
        ):
            last[r] = f"{surnames[k]}-{surnames[k2]}" if d else surnames[k]
    birth = _BIRTH_FROM + rng.integers(0, _BIRTH_DAYS, n)
    area = rng.integers(1, 899, n)
    area[area >= 666] += 1  # 666 is never issued; 900-999 neither
    ssn = area * 1_000_000 + rng.integers(1, 100, n) * 10_000 + rng.integers(1, 10_000, n)
    twin_of = np.full(n, -1, np.int64)
    twin_rate = min(1.0, ERROR_RATES["twin"] * noise)
    for i in np.flatnonzero(rng.random(n) < twin_rate).tolist():
        if i == 0:
            continue
        j = i - 1
        twin_of[i] = j
        last[i], birth[i], french[i] = last[j], birth[j], french[j]
        kind = "male" if sex[i] else "female"
        table = locale_tables("fr_CA" if french[i] else "en_US")[kind]
        while first[i] == first[j]:
            first[i] = table.names[int(table.sample(rng, 1)[0])]
    return Population(first, last, birth, ssn, sex, twin_of)


def make_people(n: int, seed: int) -> list[Person]:
    """``n`` people as objects: for tests and examples that need a few synthetic identities."""
    population = make_population(n, seed)
    return [population.person(i) for i in range(n)]
