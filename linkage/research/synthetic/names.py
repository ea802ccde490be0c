"""Weighted name tables from Faker's locale data: the population the generator draws from and
the "public" frequency table the privacy attack aligns against.

Faker's en_US tables carry census-derived weights; its fr_CA tables are plain lists, which Faker
itself samples uniformly, and so do we. Nothing here is typed in by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

#: Share of the population drawn from the French Canadian tables.
FRENCH_SHARE = 0.3


@dataclass(frozen=True)
class NameTable:
    """Names and their probabilities (summing to 1), most frequent first."""

    names: tuple[str, ...]
    probs: npt.NDArray[np.float64]

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """Indices into ``names`` drawn with the table's weights."""
        return rng.choice(len(self.names), size=n, p=self.probs)


def _table(entries: Mapping[str, float] | Sequence[str]) -> NameTable:
    if isinstance(entries, Mapping):
        names, weights = list(entries), np.array(list(entries.values()), np.float64)
    else:
        names, weights = list(entries), np.ones(len(entries))
    order = np.argsort(-weights, kind="stable")
    probs = weights[order] / weights.sum()
    return NameTable(tuple(names[i] for i in order), probs)


def _mix(parts: Sequence[tuple[NameTable, float]]) -> NameTable:
    """One table for a population mixing locales in the given shares (names merged)."""
    total: dict[str, float] = {}
    for table, share in parts:
        for name, p in zip(table.names, table.probs, strict=True):
            total[name] = total.get(name, 0.0) + share * float(p)
    return _table(total)


@cache
def locale_tables(locale: str) -> dict[str, NameTable]:
    """``female``, ``male`` and ``last`` tables of one Faker locale (en_US or fr_CA)."""
    from importlib import import_module

    if locale not in ("en_US", "fr_CA"):
        raise ValueError(f"no name tables for locale {locale!r}")
    Provider = import_module(f"faker.providers.person.{locale}").Provider
    return {
        "female": _table(Provider.first_names_female),
        "male": _table(Provider.first_names_male),
        "last": _table(Provider.last_names),
    }


@cache
def public_tables() -> dict[str, NameTable]:
    """First-name and surname frequencies of the whole population mix: what an attacker would
    take from a census or voter file. (Hyphenated surnames are left out, as a public surname
    table would leave them.)"""
    en, fr = locale_tables("en_US"), locale_tables("fr_CA")
    english, french = 1.0 - FRENCH_SHARE, FRENCH_SHARE
    first = _mix(
        [
            (en["female"], english / 2),
            (en["male"], english / 2),
            (fr["female"], french / 2),
            (fr["male"], french / 2),
        ]
    )
    return {"first_name": first, "last_name": _mix([(en["last"], english), (fr["last"], french)])}
