"""Small-cell suppression with secondary suppression, for published tables.

Primary: a count of people from 1 to ``threshold - 1`` is not shown (zero is shown: it says
nobody, which harms nobody). Secondary: a table's cells are tied by additive relations (a total
is the sum of its parts; this month's active count is last month's plus inflow minus outflow
plus the difference). A relation with exactly one hidden cell gives that cell away, so another
of its cells, the smallest still shown, is hidden too, until no relation has exactly one.

This is the rule statistical offices apply cell by cell; it does not defend against an
attacker solving every relation of every table at once (that needs a linear-programming
audit, which the tables here are too small to need: each relation shares at most two cells
with another).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def suppress(
    cells: Mapping[str, int],
    relations: Iterable[frozenset[str]],
    threshold: int,
    counts_of_people: Iterable[str],
    hidden_before: Iterable[str] = (),
    published: Iterable[str] = (),
) -> set[str]:
    """The names of the cells to hide. ``counts_of_people`` are the cells primary suppression
    applies to (a difference or a share is not a count of people, but may be hidden second).
    A value another table also holds must be hidden in both or shown in both: the cells
    ``hidden_before`` were hidden there, so they are hidden here too, and the ``published``
    ones were shown there, so hiding them here would protect nothing and they are never
    chosen as a relation's second cell."""
    hidden = {c for c in counts_of_people if 0 < cells[c] < threshold} | set(hidden_before)
    known = set(published)
    ties = [r for r in relations if len(r) > 1]
    changed = True
    while changed:
        changed = False
        for relation in ties:
            if len(relation & hidden) != 1:
                continue
            shown = sorted(relation - hidden - known, key=lambda c: (abs(cells[c]), c))
            if not shown:  # every other cell is public already: nothing left to hide it with
                continue
            hidden.add(shown[0])
            changed = True
    return hidden
