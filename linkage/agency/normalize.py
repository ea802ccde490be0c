"""Normalisation of identifiers as they appear in homelessness-service records.

Pure functions from a raw cell (plus its HMIS data-quality code) to a :class:`Value`: a status
(present, partial, missing, invalid) and a canonical string that the tokenisers read. Everything
that real exports get wrong is decided here, once, so that two agencies recording the same person
differently end up with as many shared tokens as possible:

* names are folded to ASCII lower case, punctuation dropped, hyphenated names kept as their halves
  (``tremblay-gagnon``) so each half can match on its own;
* placeholder names (``Unknown``, ``Anonymous``, ``Doe``...) are missing, not a shared name;
* HMIS data-quality codes 8, 9 and 99 make the value missing; code 2 makes it partial;
* dates are validated; sentinel defaults (1900-01-01, configured values) are missing; a 1 January
  birthday may be reduced to the year, because HMIS forces it when the day is unknown;
* SSNs are checked against the SSA's never-issued ranges and known placeholders; a 4-digit value
  is a partial (last-4) SSN.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from anyascii import anyascii

from linkage.agency.hmis.spec import MISSING_CODES
from linkage.formats.config import FieldSpec


class Status(IntEnum):
    """What a field of one record holds; the order is the column order of quality summaries."""

    PRESENT = 0
    PARTIAL = 1
    MISSING = 2
    INVALID = 3


@dataclass(frozen=True, slots=True)
class Value:
    """A normalised field value; ``text`` is empty unless the status is present or partial."""

    status: Status
    text: str = ""


MISSING = Value(Status.MISSING)
INVALID = Value(Status.INVALID)


_PLACEHOLDER_NAMES = frozenset(
    {
        "unknown",
        "unk",
        "anonymous",
        "anon",
        "doe",
        "refused",
        "client",
        "none",
        "na",
        "noname",
        "nofirstname",
        "nolastname",
        "notprovided",
        "notcollected",
        "test",
        "declined",
        "baby",
        "babygirl",
        "babyboy",
        "fnu",
        "lnu",
        "xxx",
        "x",
    }
)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v"})
_NOT_LETTER = re.compile(r"[^a-z\- ]+")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"[^0-9]+")

_ISSUABLE = re.compile(r"(?!000|666|9)[0-9]{3}(?!00)[0-9]{2}(?!0000)[0-9]{4}\Z")
_PLACEHOLDER_SSNS = frozenset({"123456789", "987654321", "078051120", "219099999", "111223333"})


def _quality(code: str) -> Status | None:
    """Status forced by a data-quality code, or None when the value should be read."""
    if code in MISSING_CODES:
        return Status.MISSING
    if code == "2":
        return Status.PARTIAL
    return None


def fold(text: str) -> str:
    """ASCII-fold, lower-case and trim: ``Bélanger`` and ``BELANGER`` become ``belanger``."""
    if not text.isascii():
        text = anyascii(text)
    return text.strip().lower()


def name_parts(raw: str) -> tuple[str, ...]:
    """Split a name into its parts: hyphens and spaces separate, particles stay attached.

    ``"Tremblay-Gagnon"`` gives ``("tremblay", "gagnon")``; ``"O'Brien Jr."`` gives
    ``("obrien",)``; ``"De La Cruz"`` gives ``("delacruz",)`` because particles are written
    with and without spaces, but almost never hyphenated.
    """
    text = _NOT_LETTER.sub("", fold(raw).replace("'", "").replace(".", " ").replace(",", " "))
    words = [w for w in _SPACES.split(text) if w and w not in _SUFFIXES]
    joined = "".join(words)
    # a suffix can also stand as a hyphen half ("V-" after folding "V¯"): drop it there too,
    # or normalising the result again would drop it then, and the two would differ
    return tuple(p for p in joined.split("-") if p and p not in _SUFFIXES)


def normalize_name(raw: str, quality: str = "") -> Value:
    """A person's given or family name."""
    forced = _quality(quality)
    if forced is Status.MISSING:
        return MISSING
    parts = name_parts(raw)
    if not parts or "".join(parts) in _PLACEHOLDER_NAMES:
        return MISSING
    return Value(forced or Status.PRESENT, "-".join(parts))


def normalize_text(raw: str, quality: str = "") -> Value:
    """Free text such as a suburb or street: folded, letters and digits only, single spaces."""
    if _quality(quality) is Status.MISSING:
        return MISSING
    text = " ".join(re.sub(r"[^a-z0-9 ]+", " ", fold(raw)).split())
    return Value(Status.PRESENT, text) if text else MISSING


def parse_date(raw: str, fmt: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a valid calendar date written in ``fmt``, else None."""
    text = raw.strip()
    try:
        if fmt == "%Y-%m-%d":
            text = text[:10]
            if len(text) != 10 or text[4] != "-" or text[7] != "-":
                return None
            y, m, d = int(text[:4]), int(text[5:7]), int(text[8:10])
        elif fmt == "%Y%m%d":
            if len(text) != 8 or not text.isdigit():
                return None
            y, m, d = int(text[:4]), int(text[4:6]), int(text[6:8])
        else:
            parsed = _dt.datetime.strptime(text, fmt)
            return parsed.year, parsed.month, parsed.day
        _dt.date(y, m, d)
    except ValueError:
        return None
    return y, m, d


def normalize_date(raw: str, quality: str, spec: FieldSpec, today: _dt.date) -> Value:
    """A date of birth as ``YYYYMMDD`` (present) or ``YYYY`` (partial: year only)."""
    forced = _quality(quality)
    if forced is Status.MISSING or not raw.strip():
        return MISSING
    ymd = parse_date(raw, spec.date_format)
    if ymd is None:
        return INVALID
    y, m, d = ymd
    iso = f"{y:04d}-{m:02d}-{d:02d}"
    if iso == "1900-01-01" or iso in spec.missing_values:
        return MISSING
    if y < 1900 or (y, m, d) > (today.year, today.month, today.day):
        return INVALID
    year_only = (forced is Status.PARTIAL and spec.partial == "year_only") or (
        m == 1 and d == 1 and spec.jan1 == "year_only"
    )
    if year_only:
        return Value(Status.PARTIAL, date_text(y, m, d, year_only=True))
    return Value(forced or Status.PRESENT, date_text(y, m, d, year_only=False))


def date_text(year: int, month: int, day: int, year_only: bool) -> str:
    """The normalised form of a date that the tokenisers read: ``YYYYMMDD`` or ``YYYY``."""
    return f"{year:04d}" if year_only else f"{year:04d}{month:02d}{day:02d}"


def ssn_is_valid(digits: str) -> bool:
    """Whether a 9-digit SSN could have been issued (SSA rules plus well-known placeholders):
    not area 000, 666 or 9xx, not group 00, not serial 0000, not one repeated digit, not a
    run like 123456789, not a number used in advertising."""
    return (
        _ISSUABLE.match(digits) is not None
        and digits != digits[0] * 9
        and digits not in _PLACEHOLDER_SSNS
        and digits not in "01234567890123456789"
        and digits not in "98765432109876543210"
    )


def normalize_ssn(raw: str, quality: str, spec: FieldSpec) -> Value:
    """An SSN: 9 valid digits (present) or the last 4 (partial); placeholders are missing."""
    forced = _quality(quality)
    if forced is Status.MISSING:
        return MISSING
    digits = raw if raw.isascii() and raw.isdigit() else _DIGITS.sub("", raw)
    if not digits:
        return MISSING if not raw.strip() or raw.strip().lower() in ("x", "n/a", "na") else INVALID
    if len(digits) == 4 or (len(digits) == 9 and digits[:5] == "00000"):
        last4 = digits[-4:]
        if last4 == "0000" or len(set(last4)) == 1:
            return MISSING
        return Value(Status.PARTIAL, last4)
    if len(digits) != 9:
        return INVALID
    if not ssn_is_valid(digits):
        return MISSING
    if forced is Status.PARTIAL or spec.partial == "last4":
        return Value(Status.PARTIAL, digits[-4:])
    return Value(Status.PRESENT, digits)


def normalize_digits(raw: str, quality: str, spec: FieldSpec) -> Value:
    """A number such as a postcode or an identifier: its digits, left-padded to ``digits``."""
    if _quality(quality) is Status.MISSING:
        return MISSING
    digits = raw if raw.isascii() and raw.isdigit() else _DIGITS.sub("", raw)
    if not digits:
        return MISSING if not raw.strip() else INVALID
    if len(digits) > spec.digits:
        return INVALID
    if spec.partial == "last4":
        return Value(Status.PARTIAL, digits[-4:])
    return Value(Status.PRESENT, digits.zfill(spec.digits))


#: HMIS FY2026 Sex: 0 female, 1 male; anything else we also accept spelled out.
_SEX = {"0": "f", "1": "m", "f": "f", "m": "m", "female": "f", "male": "m"}


def normalize_sex(raw: str, quality: str = "") -> Value:
    """Sex as ``f`` or ``m``; HMIS codes 8, 9, 99 and empty are missing."""
    text = raw.strip().lower()
    if not text or text in MISSING_CODES:
        return MISSING
    code = _SEX.get(text)
    return Value(Status.PRESENT, code) if code else INVALID


def normalize(raw: str, quality: str, spec: FieldSpec, today: _dt.date) -> Value:
    """Normalise one cell of a field according to its kind."""
    kind = spec.kind
    if kind in ("name", "surname"):
        value = normalize_name(raw, quality)
        if value.status is Status.PARTIAL and spec.partial == "missing":
            return MISSING
        return value
    if kind == "date":
        return normalize_date(raw, quality, spec, today)
    if kind == "ssn":
        return normalize_ssn(raw, quality, spec)
    if kind == "digits":
        return normalize_digits(raw, quality, spec)
    if kind == "sex":
        return normalize_sex(raw, quality)
    return normalize_text(raw, quality)


_SEQUENTIAL = np.array(
    [int(s[i : i + 9]) for s in ("01234567890123456789", "98765432109876543210") for i in range(11)]
    + [int(p) for p in _PLACEHOLDER_SSNS]
)


def ssn_digits_batch(
    raws: Sequence[str], quals: Sequence[str] | None, spec: FieldSpec
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """:func:`normalize_ssn` for a whole column at once, as (status, digits).

    ``digits[i, p]`` is the p-th digit of record i counted from the right, or -1 where the
    normalised value has no such digit (missing, or only the last 4 kept). The common cells
    (empty, or exactly nine ASCII digits) are decided with numpy; the rest go through
    :func:`normalize_ssn`, so both always agree.
    """
    n = len(raws)
    status = np.full(n, Status.MISSING, np.int8)
    digits = np.full((n, 9), -1, np.int8)
    if n == 0:
        return status, digits
    cells = np.array(raws, dtype=str)
    lengths = np.strings.str_len(cells)
    codes = np.array(quals, dtype=str) if quals is not None else np.full(n, "", dtype=str)
    forced_missing = np.isin(codes, list(MISSING_CODES))
    # last 4 only, as "1234" or masked as "XXXXX1234" (either case) or "000001234": partial
    masked = (lengths == 9) & (
        np.strings.startswith(cells, "XXXXX")
        | np.strings.startswith(cells, "xxxxx")
        | np.strings.startswith(cells, "00000")
    )
    nine = (lengths == 9) & ~forced_missing & ~masked
    if nine.any():
        cp = cells[nine].astype("<U9").view(np.uint32).reshape(-1, 9).astype(np.int64) - 48
        ascii_digits = ((cp >= 0) & (cp <= 9)).all(axis=1)
        powers = 10 ** np.arange(8, -1, -1, dtype=np.int64)
        number = (np.clip(cp, 0, 9) * powers).sum(axis=1)
        area, group, serial = number // 1_000_000, (number // 10_000) % 100, number % 10_000
        valid = (
            ascii_digits
            & (area != 0)
            & (area != 666)
            & (area < 900)
            & (group != 0)
            & (serial != 0)
            & ~(cp == cp[:, :1]).all(axis=1)
            & ~np.isin(number, _SEQUENTIAL)
        )
        partial = (codes[nine] == "2") | (spec.partial == "last4")
        keep = np.where(partial[:, None], np.arange(9) < 4, True)
        rows = np.flatnonzero(nine)
        fast = ascii_digits
        ok = valid & fast
        status[rows[fast]] = Status.MISSING
        status[rows[ok]] = np.where(partial[ok], Status.PARTIAL, Status.PRESENT)
        right = cp[:, ::-1]
        digits[rows[ok]] = np.where(keep[ok], right[ok], -1)
        slow_rows = rows[~fast]
    else:
        slow_rows = np.zeros(0, np.int64)
    handled = (lengths == 0) | forced_missing
    handled[np.flatnonzero(nine)] = True
    four = ((lengths == 4) | masked) & ~forced_missing
    if four.any():
        tail = np.strings.slice(cells[four], -4, None).astype("<U4")
        cp4 = tail.view(np.uint32).reshape(-1, 4).astype(np.int64) - 48
        ok4 = ((cp4 >= 0) & (cp4 <= 9)).all(axis=1)
        rows4 = np.flatnonzero(four)[ok4]
        cp4 = cp4[ok4]
        blank = (cp4 == cp4[:, :1]).all(axis=1)  # 0000, 1111...: a placeholder
        status[rows4] = np.where(blank, Status.MISSING, Status.PARTIAL)
        digits[rows4[~blank], :4] = cp4[~blank][:, ::-1]
        handled[rows4] = True
        slow_rows = slow_rows[~np.isin(slow_rows, rows4)]
    rest = np.concatenate([slow_rows, np.flatnonzero(~handled)])
    for i in rest.tolist():
        value = normalize_ssn(raws[i], quals[i] if quals is not None else "", spec)
        status[i] = value.status
        for p, c in enumerate(reversed(value.text)):
            digits[i, p] = ord(c) - 48
    return status, digits


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def date_batch(
    raws: Sequence[str], quals: Sequence[str] | None, spec: FieldSpec, today: _dt.date
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """:func:`normalize_date` for a whole column at once, as (status, ymd, year_only).

    ``ymd[i]`` is (year, month, day) of record i where the status is present or partial;
    ``year_only[i]`` says that only the year was kept. Cells in the configured format with no
    surrounding spaces are decided with numpy; the rest go through :func:`normalize_date`, so
    both always agree.
    """
    n = len(raws)
    status = np.full(n, Status.MISSING, np.int8)
    ymd = np.zeros((n, 3), np.int64)
    year_only = np.zeros(n, np.bool_)
    if n == 0:
        return status, ymd, year_only
    cells = np.array(raws, dtype=str)
    codes = np.array(quals, dtype=str) if quals is not None else np.full(n, "", dtype=str)
    forced_missing = np.isin(codes, list(MISSING_CODES))
    stripped = np.strings.strip(cells)
    empty = np.strings.str_len(stripped) == 0
    lengths = np.strings.str_len(cells)
    if spec.date_format == "%Y-%m-%d":
        width, digit_at = 10, [0, 1, 2, 3, 5, 6, 8, 9]
        shaped = (lengths == 10) | ((lengths > 10) & (cells == stripped))
    elif spec.date_format == "%Y%m%d":
        width, digit_at = 8, list(range(8))
        shaped = lengths == 8
    else:
        width, digit_at, shaped = 0, [], np.zeros(n, np.bool_)
    fast = np.flatnonzero(shaped & (cells == stripped) & ~forced_missing)
    if fast.size:
        cp = cells[fast].astype(f"<U{width}").view(np.uint32).reshape(-1, width).astype(np.int64)
        ok = ((cp[:, digit_at] >= 48) & (cp[:, digit_at] <= 57)).all(axis=1)
        if width == 10:
            ok &= (cp[:, 4] == ord("-")) & (cp[:, 7] == ord("-"))
        fast, cp = fast[ok], cp[ok] - 48
        dig = cp[:, digit_at]
        y = dig[:, 0] * 1000 + dig[:, 1] * 100 + dig[:, 2] * 10 + dig[:, 3]
        m = dig[:, 4] * 10 + dig[:, 5]
        d = dig[:, 6] * 10 + dig[:, 7]
        leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
        month_ok = (m >= 1) & (m <= 12)
        days = _DAYS_IN_MONTH[np.where(month_ok, m, 0)] + (month_ok & (m == 2) & leap)
        valid = month_ok & (d >= 1) & (d <= days) & (y >= 1)
        key = y * 10000 + m * 100 + d
        sentinels = [19000101] + [int(v.replace("-", "")) for v in spec.missing_values]
        missing = valid & np.isin(key, sentinels)
        today_key = today.year * 10000 + today.month * 100 + today.day
        invalid = ~valid | (~missing & ((y < 1900) | (key > today_key)))
        partial = codes[fast] == "2"
        only_year = (partial & (spec.partial == "year_only")) | (
            (m == 1) & (d == 1) & (spec.jan1 == "year_only")
        )
        status[fast] = np.select(
            [invalid, missing, only_year | partial],
            [Status.INVALID, Status.MISSING, Status.PARTIAL],
            Status.PRESENT,
        )
        good = fast[~invalid & ~missing]
        keep = ~invalid & ~missing
        ymd[good] = np.stack([y[keep], m[keep], d[keep]], axis=1)
        year_only[good] = only_year[keep]
    handled = empty | forced_missing
    handled[fast] = True
    for i in np.flatnonzero(~handled).tolist():
        value = normalize_date(raws[i], quals[i] if quals is not None else "", spec, today)
        status[i] = value.status
        if value.text:
            text = value.text
            ymd[i, 0] = int(text[:4])
            if len(text) == 8:
                ymd[i, 1], ymd[i, 2] = int(text[4:6]), int(text[6:8])
            else:
                year_only[i] = True
    return status, ymd, year_only
