"""The linkage config: a versioned TOML document that fully determines an encoding.

Two agencies produce comparable encodings exactly when their configs have the same
*fingerprint*. The fingerprint covers everything that changes which bits are set (fields, kinds,
tokenisers, weights, filter length, hashing, salting, hardening, blocking keys) and nothing that
only says where to read a value (column names, quality columns), so partners whose exports use
different column names can still link. Coordinator-only settings (``[thresholds]``, ``[match]``,
``[bynamelist]``) are also left out, so the coordinator may tune them without new uploads.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from linkage.errors import ConfigError
from linkage.formats.container import MAX_BLOCKING_KEYS, MAX_FIELDS, MAX_FILTER_BITS

#: The config document's schema. A change that an older linkage could not read bumps it,
#: and :func:`parse_config` is then given a converter from every older version to the next
#: (as clkhash's schemas are), so that old config files keep loading. The fingerprint does
#: not depend on it: see :data:`FINGERPRINT_LAYOUT`.
SCHEMA_VERSION = 1
#: The layout of the fingerprint's canonical form, fixed at 1. A new schema version that
#: encodes the same bits keeps every fingerprint, so the uploads and stores made before it
#: still match the configs converted from their own.
FINGERPRINT_LAYOUT = 1

KINDS = ("name", "surname", "date", "ssn", "sex", "text", "digits")
TOKEN_TYPES = ("qgram", "phonetic", "exact", "nickname", "date_part", "digit_position")
PHONETIC = ("soundex", "metaphone", "nysiis", "match_rating")
DATE_PARTS = ("year", "month", "day", "day_month", "decade")
#: Digits a digit_position tokeniser takes (all when unset): the last four, or the rest.
DIGIT_PARTS = ("last4", "rest")
PARTIAL_RULES = ("keep", "missing", "year_only", "last4")
HASHING = ("random", "double")
HARDENING = ("balance", "xor_fold", "rule90", "blip", "permute")

# Which token types make sense for which kind of field.
_KIND_TOKENS: dict[str, tuple[str, ...]] = {
    "name": ("qgram", "phonetic", "exact", "nickname"),
    "surname": ("qgram", "phonetic", "exact"),
    "date": ("date_part",),
    "ssn": ("digit_position", "exact"),
    "sex": ("exact",),
    "text": ("qgram", "phonetic", "exact"),
    "digits": ("digit_position", "qgram", "exact"),
}


@dataclass(frozen=True)
class TokenSpec:
    """One tokeniser of a field and the number of bits each of its tokens sets."""

    type: str
    weight: int
    n: int = 2
    padding: bool = True
    algorithm: str = ""
    part: str = ""
    max_canonicals: int = 3


@dataclass(frozen=True)
class FieldSpec:
    """A field: where to read it, how to normalise it, how to turn it into tokens."""

    name: str
    column: str
    kind: str
    tokens: tuple[TokenSpec, ...]
    quality_column: str = ""
    partial: str = "keep"
    optional: bool = False
    date_format: str = "%Y-%m-%d"
    missing_values: tuple[str, ...] = ()
    jan1: str = "keep"
    digits: int = 9
    #: Fields of one group are hashed with one key and tokens named alike, so the coordinator
    #: can compare them with each other (a first and last name written the other way round).
    group: str = ""
    #: The field whose value this one is a part of (a birth date's day and month, read from
    #: the same column as its year): the parts are compared on their own, but where every
    #: part agrees exactly the pair is weighed once, on how common the whole value is.
    part_of: str = ""

    @property
    def key_name(self) -> str:
        """What the field's hashing key is derived for: its group, else its own name."""
        return f"group/{self.group}" if self.group else self.name


#: Kinds a group may hold: text that can be written in the other field's place.
GROUP_KINDS = ("name", "surname", "text")


@dataclass(frozen=True)
class HardeningStep:
    """One hardening step applied, in order, to packed filters."""

    step: str
    probability: float = 0.0


#: What a blocking key may take of a field's normalised value.
BLOCKING_TRANSFORMS = ("value", "initial", "soundex", "metaphone", "year", "last4")
_TRANSFORM_KINDS = {
    "initial": ("name", "surname", "text"),
    "soundex": ("name", "surname", "text"),
    "metaphone": ("name", "surname", "text"),
    "year": ("date",),
    "last4": ("ssn", "digits"),
}


@dataclass(frozen=True)
class BlockingKey:
    """A blocking key computed by the agency from plaintext parts and carried keyed."""

    name: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Thresholds:
    """Matcher thresholds on the match score: automatic links at or above ``upper``, a review
    band from ``lower``. ``candidate`` is the record-level Dice a pair needs before it is scored
    at all; it bounds the work, so it is kept as high as recall allows. ``key_candidate`` is
    the lower Dice enough for a pair that shares a specific blocking key (one held by at most
    ``[match] key_block`` records): a shared full DOB or SSN last 4 is itself evidence, and the
    pairs a typo, a swap or an alias pushes below ``candidate`` mostly share one."""

    upper: float = 0.8
    lower: float = 0.7
    candidate: float = 0.7
    key_candidate: float = 0.7


#: How a candidate pair is scored: "weights" is the match probability of a Fellegi-Sunter model
#: fitted to the candidates (field agreement levels, rare values worth more; see
#: linkage.matching.scoring); "fields" averages the field-level Dice over the fields both records
#: hold (a missing value neither helps nor hurts); "record" is the record-level Dice.
SCORES = ("weights", "fields", "record")
#: How candidate pairs are found: "auto" compares all pairs up to ``all_pairs_limit`` records,
#: then uses the agencies' blocking keys when every file carries them, else LSH on the filters.
BLOCKING_METHODS = ("auto", "all", "keys", "lsh", "keys+lsh")


#: Largest ``key_block``: the pairs of a block grow with its square, and blocks this large
#: hold keys that separate little (blocking's own cap is 2,000).
MAX_KEY_BLOCK = 1_000


@dataclass(frozen=True)
class MatchSettings:
    """Coordinator-side settings: how pairs are found, scored and grouped into entities."""

    score: str = "record"
    blocking: str = "auto"
    all_pairs_limit: int = 200_000
    max_cluster: int = 20
    min_support: float = 0.5
    key_block: int = 10


@dataclass(frozen=True)
class ByNameListSettings:
    """How the coordinator keeps the by-name list (docs/hmis.md): when a person with no
    activity becomes inactive, which report cells are too small to publish, and whether an
    agency's export may say how many other agencies also know each of its clients."""

    inactive_after_days: int = 90
    suppress_below: int = 10
    share_known_elsewhere: bool = False
    #: A month is reliable when |active - last month's active - inflow + outflow| is at most
    #: this share of active (the community sets it; 0 asks for an exact balance).
    reliable_within: float = 0.01


@dataclass(frozen=True)
class Config:
    """A validated linkage config."""

    name: str
    fields: tuple[FieldSpec, ...]
    filter_length: int = 1024
    hashing: str = "random"
    field_length: int = 0
    salt_field: str = ""
    hardening: tuple[HardeningStep, ...] = ()
    blocking: tuple[BlockingKey, ...] = ()
    input_format: str = "csv"
    id_column: str = "id"
    deleted_column: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    match: MatchSettings = field(default_factory=MatchSettings)
    bynamelist: ByNameListSettings = field(default_factory=ByNameListSettings)
    description: str = ""
    source: str = ""

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the canonical form of everything that determines the bits."""
        canonical = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def canonical(self) -> dict[str, Any]:
        """The encoding-relevant part of the config as plain data (see module docstring)."""
        fields = []
        for f in self.fields:
            d = asdict(f)
            for where in ("column", "quality_column", "optional"):
                d.pop(where)
            for later in ("group", "part_of"):  # added later: older configs keep their prints
                if not d[later]:
                    d.pop(later)
            d["tokens"] = [asdict(t) for t in f.tokens]
            fields.append(d)
        return {
            "schema_version": FINGERPRINT_LAYOUT,  # named so by 0.1: every print depends on it
            "filter_length": self.filter_length,
            "hashing": self.hashing,
            "field_length": self.field_length,
            "salt_field": self.salt_field,
            "hardening": [asdict(h) for h in self.hardening],
            "blocking": [asdict(b) for b in self.blocking],
            "fields": fields,
        }

    @property
    def crossed(self) -> tuple[tuple[int, int], ...]:
        """Pairs of fields (by position) hashed alike, compared crosswise for swaps."""
        return tuple(
            (i, j)
            for i, a in enumerate(self.fields)
            for j, b in enumerate(self.fields)
            if i < j and a.group and a.group == b.group
        )

    @property
    def joined(self) -> tuple[tuple[int, int], ...]:
        """Pairs of fields (by position) that are parts of one value: (whole, part)."""
        position = {f.name: i for i, f in enumerate(self.fields)}
        return tuple((position[f.part_of], j) for j, f in enumerate(self.fields) if f.part_of)

    @property
    def output_length(self) -> int:
        """Length in bits of a record-level filter after hardening."""
        return hardened_length(self.filter_length, self.hardening)

    @property
    def output_field_length(self) -> int:
        """Length in bits of each field-level filter after hardening (0 when disabled)."""
        if not self.field_length:
            return 0
        return hardened_length(self.field_length, self.hardening)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def hardened_length(bits: int, steps: tuple[HardeningStep, ...]) -> int:
    """Filter length after ``steps``: balancing doubles it, XOR-folding halves it."""
    for s in steps:
        if s.step == "balance":
            bits *= 2
        elif s.step == "xor_fold":
            bits //= 2
    return bits


class _Table:
    """A TOML table being validated: remembers which keys were read to reject the rest."""

    def __init__(self, data: Any, where: str, source: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: {where} must be a table", "see docs/config.md")
        self.data = data
        self.where = where
        self.source = source
        self.seen: set[str] = set()

    def _err(self, msg: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.where}: {msg}", "see docs/config.md")

    def get(self, key: str, kind: type, default: Any = None, required: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise self._err(f"missing required key '{key}'")
            return default
        value = self.data[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise self._err(f"key '{key}' must be of type {kind.__name__}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(key, str, default, required=default is None)
        if value not in options:
            raise self._err(f"'{key}' is '{value}', expected one of {', '.join(options)}")
        return str(value)

    def sub(self, key: str) -> _Table:
        self.seen.add(key)
        return _Table(self.data.get(key, {}), f"{self.where}.{key}".lstrip("."), self.source)

    def items(self, key: str) -> list[_Table]:
        self.seen.add(key)
        raw = self.data.get(key, [])
        if not isinstance(raw, list):
            raise self._err(f"'{key}' must be an array of tables")
        return [
            _Table(v, f"{self.where}.{key}[{i}]".lstrip("."), self.source)
            for i, v in enumerate(raw)
        ]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self._err(f"unknown key '{unknown[0]}'")


def _token(t: _Table, kind: str) -> TokenSpec:
    ttype = t.choice("type", TOKEN_TYPES)
    if ttype not in _KIND_TOKENS[kind]:
        raise t._err(f"token type '{ttype}' does not apply to a field of kind '{kind}'")
    weight = t.get("weight", int, required=True)
    if not 1 <= weight <= 256:
        raise t._err("'weight' (bits per token) must be between 1 and 256")
    spec = TokenSpec(type=ttype, weight=weight)
    if ttype == "qgram":
        n = t.get("n", int, 2)
        if not 1 <= n <= 5:
            raise t._err("'n' must be between 1 and 5")
        spec = TokenSpec(type=ttype, weight=weight, n=n, padding=t.get("padding", bool, True))
    elif ttype == "phonetic":
        spec = TokenSpec(type=ttype, weight=weight, algorithm=t.choice("algorithm", PHONETIC))
    elif ttype == "date_part":
        spec = TokenSpec(type=ttype, weight=weight, part=t.choice("part", DATE_PARTS))
    elif ttype == "digit_position" and "part" in t.data:
        spec = TokenSpec(type=ttype, weight=weight, part=t.choice("part", DIGIT_PARTS))
    elif ttype == "nickname":
        spec = TokenSpec(type=ttype, weight=weight, max_canonicals=t.get("max_canonicals", int, 3))
    t.done()
    return spec


def _field(f: _Table) -> FieldSpec:
    name = f.get("name", str, required=True)
    kind = f.choice("kind", KINDS)
    tokens = tuple(_token(t, kind) for t in f.items("tokens"))
    if not tokens:
        raise f._err("a field needs at least one [[fields.tokens]] entry")
    partial = f.choice("partial", PARTIAL_RULES, "keep")
    if partial == "year_only" and kind != "date":
        raise f._err("partial = 'year_only' applies to date fields only")
    if partial == "last4" and kind not in ("ssn", "digits"):
        raise f._err("partial = 'last4' applies to ssn and digits fields only")
    missing = f.get("missing_values", list, [])
    if not all(isinstance(m, str) for m in missing):
        raise f._err("'missing_values' must be a list of strings")
    spec = FieldSpec(
        name=name,
        column=f.get("column", str, required=True),
        kind=kind,
        tokens=tokens,
        quality_column=f.get("quality_column", str, ""),
        partial=partial,
        optional=f.get("optional", bool, False),
        date_format=f.get("date_format", str, "%Y-%m-%d"),
        missing_values=tuple(missing),
        jan1=f.choice("jan1", ("keep", "year_only"), "keep"),
        digits=f.get("digits", int, 9),
        group=f.get("group", str, ""),
        part_of=f.get("part_of", str, ""),
    )
    if spec.group and kind not in GROUP_KINDS:
        raise f._err(f"'group' applies to {', '.join(GROUP_KINDS)} fields only")
    f.done()
    return spec


def _check_parts(fields: tuple[FieldSpec, ...], top: _Table) -> None:
    """A part names an earlier field of its kind that is a whole, and a whole has one part:
    the weights take the pair's exact agreement on both as one agreement on the whole."""
    seen: dict[str, FieldSpec] = {}
    taken: set[str] = set()
    for f in fields:
        if f.part_of:
            whole = seen.get(f.part_of)
            if whole is None:
                raise top._err(f"field '{f.name}': part_of '{f.part_of}' names no earlier field")
            grouped = bool(f.group or whole.group)
            if whole.part_of or whole.name in taken or whole.kind != f.kind or grouped:
                raise top._err(
                    f"field '{f.name}': part_of '{f.part_of}' must name a field of kind "
                    f"'{f.kind}' that is not itself a part, has no other part, and is in no group"
                )
            taken.add(whole.name)
        seen[f.name] = f


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a parsed TOML document; raise :class:`ConfigError` naming the first problem."""
    top = _Table(data, "", source)
    version = top.get("schema_version", int, required=True)
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{source}: schema_version {version} is newer than this linkage reads "
            f"({SCHEMA_VERSION})",
            "upgrade linkage (pip install -U linkage) to read this config",
        )
    if version < 1:
        raise ConfigError(
            f"{source}: schema_version {version} was never a config schema",
            f"set schema_version = {SCHEMA_VERSION}",
        )
    name = top.get("name", str, required=True)
    description = top.get("description", str, "")

    inp = top.sub("input")
    input_format = inp.choice("format", ("csv", "hmis"), "csv")
    id_column = inp.get("id_column", str, "PersonalID" if input_format == "hmis" else "id")
    deleted_column = inp.get("deleted_column", str, "")
    inp.done()

    flt = top.sub("filter")
    length = flt.get("length", int, 1024)
    if length < 64 or length % 64 or length > MAX_FILTER_BITS:
        raise flt._err(f"'length' must be a multiple of 64 from 64 to {MAX_FILTER_BITS}")
    field_length = flt.get("field_length", int, 0)
    if field_length and (field_length < 64 or field_length % 64 or field_length > MAX_FILTER_BITS):
        raise flt._err(f"'field_length' must be 0 or a multiple of 64 up to {MAX_FILTER_BITS}")
    hashing = flt.choice("hashing", HASHING, "random")
    flt.done()

    fields = tuple(_field(f) for f in top.items("fields"))
    if not 1 <= len(fields) <= MAX_FIELDS:
        raise top._err(f"the config must define 1 to {MAX_FIELDS} [[fields]]")
    names = [f.name for f in fields]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise top._err(f"field name '{sorted(dupes)[0]}' is defined twice")
    for g in sorted({f.group for f in fields if f.group}):
        if sum(f.group == g for f in fields) < 2:
            raise top._err(f"group '{g}' has one field; a group compares two or more")
    _check_parts(fields, top)

    salt = top.sub("salt")
    salt_field = salt.get("field", str, "")
    if salt_field and salt_field not in names:
        raise salt._err(f"salt field '{salt_field}' is not a defined field")
    if salt_field and next(f for f in fields if f.name == salt_field).kind != "date":
        raise salt._err("the salt field must be a date field (its birth year salts the hashes)")
    salt.done()

    steps = []
    for h in top.items("hardening"):
        step = h.choice("step", HARDENING)
        prob = h.get("probability", float, 0.0)
        if step == "blip" and not 0.0 < prob < 0.5:
            raise h._err("blip needs 0 < probability < 0.5")
        if step != "blip" and prob:
            raise h._err("'probability' applies to the blip step only")
        h.done()
        steps.append(HardeningStep(step=step, probability=prob))
    hardening = tuple(steps)
    for bits, what in ((length, "length"), (field_length, "field_length")):
        if bits and hardened_length(bits, hardening) % 64:
            raise flt._err(f"after hardening, '{what}' must still be a multiple of 64 bits")
        if hardened_length(bits, hardening) > MAX_FILTER_BITS:
            raise flt._err(f"after hardening, '{what}' must be at most {MAX_FILTER_BITS} bits")

    blocking = []
    for b in top.items("blocking"):
        bname = b.get("name", str, required=True)
        parts = b.get("parts", list, required=True)
        if not parts:
            raise b._err(f"blocking key '{bname}' has no parts")
        for p in parts:
            fname, _, transform = str(p).partition(":")
            if fname not in names:
                raise b._err(f"blocking part '{p}' names no defined field")
            kind = next(f for f in fields if f.name == fname).kind
            if transform and transform not in BLOCKING_TRANSFORMS:
                raise b._err(
                    f"blocking part '{p}': unknown transform, expected one of "
                    + ", ".join(BLOCKING_TRANSFORMS)
                )
            if transform in _TRANSFORM_KINDS and kind not in _TRANSFORM_KINDS[transform]:
                raise b._err(f"blocking part '{p}': '{transform}' does not apply to a {kind}")
        b.done()
        blocking.append(BlockingKey(name=bname, parts=tuple(str(p) for p in parts)))
    if len(blocking) > MAX_BLOCKING_KEYS:
        raise top._err(f"at most {MAX_BLOCKING_KEYS} [[blocking]] keys")

    th = top.sub("thresholds")
    upper = th.get("upper", float, 0.8)
    lower = th.get("lower", float, min(upper, 0.7))
    if not 0.0 < lower <= upper <= 1.0:
        raise th._err("thresholds need 0 < lower <= upper <= 1")
    m = top.sub("match")
    score = m.choice("score", SCORES, "fields" if field_length else "record")
    if score != "record" and not field_length:
        raise m._err(f"score = '{score}' needs field-level filters ([filter] field_length > 0)")
    if score != "record" and any(h.step in ("balance", "blip") for h in hardening):
        raise m._err(
            f"score = '{score}' cannot tell a missing field from a present one after balance or "
            "blip hardening; use score = 'record'"
        )
    candidate = th.get("candidate", float, lower if score == "record" else min(lower, 0.5))
    if not 0.0 < candidate <= 1.0:
        raise th._err("'candidate' must be in (0, 1]")
    if score == "record" and candidate > lower:
        raise th._err("with score = 'record', 'candidate' must not exceed 'lower'")
    # record Dice is the score itself in record mode: a lower floor would only add pairs
    # that score below 'lower'
    key_candidate = th.get(
        "key_candidate", float, candidate if score == "record" else min(candidate, 0.2)
    )
    if not 0.0 < key_candidate <= candidate:
        raise th._err("'key_candidate' must be in (0, candidate]")
    th.done()
    settings = MatchSettings(
        score=score,
        blocking=m.choice("blocking", BLOCKING_METHODS, "auto"),
        all_pairs_limit=m.get("all_pairs_limit", int, 200_000),
        max_cluster=m.get("max_cluster", int, 20),
        min_support=m.get("min_support", float, 0.5),
        key_block=m.get("key_block", int, 10),
    )
    if settings.all_pairs_limit < 0:
        raise m._err("'all_pairs_limit' must be zero or more")
    if settings.max_cluster < 2:
        raise m._err("'max_cluster' must be at least 2")
    if not 0.0 <= settings.min_support < 1.0:
        raise m._err("'min_support' must be in [0, 1)")
    if not 2 <= settings.key_block <= MAX_KEY_BLOCK:
        raise m._err(f"'key_block' must be from 2 to {MAX_KEY_BLOCK:,}")
    m.done()
    b = top.sub("bynamelist")
    list_settings = ByNameListSettings(
        inactive_after_days=b.get("inactive_after_days", int, 90),
        suppress_below=b.get("suppress_below", int, 10),
        share_known_elsewhere=b.get("share_known_elsewhere", bool, False),
        reliable_within=b.get("reliable_within", float, 0.01),
    )
    if list_settings.inactive_after_days < 1:
        raise b._err("'inactive_after_days' must be at least 1")
    if list_settings.suppress_below < 0:
        raise b._err("'suppress_below' must be zero or more")
    if not 0.0 <= list_settings.reliable_within < 1.0:
        raise b._err("'reliable_within' must be in [0, 1)")
    b.done()
    top.done()
    return Config(
        name=name,
        description=description,
        fields=fields,
        filter_length=length,
        hashing=hashing,
        field_length=field_length,
        salt_field=salt_field,
        hardening=hardening,
        blocking=tuple(blocking),
        input_format=input_format,
        id_column=id_column,
        deleted_column=deleted_column,
        thresholds=Thresholds(
            upper=upper, lower=lower, candidate=candidate, key_candidate=key_candidate
        ),
        match=settings,
        bynamelist=list_settings,
        source=source,
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a config file, or a built-in config by its name (``hmis-1``) when no
    file of that name exists."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        if p.name == str(path) and p.name in builtin_config_names():
            return load_config(builtin_config_path(p.name))
        raise ConfigError(
            f"{p}: config file not found",
            "check the path given to --config, or name a built-in config: "
            + ", ".join(builtin_config_names()),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.__class__.__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(data, str(p))


def builtin_config_names() -> list[str]:
    """The configs shipped with linkage, by name."""
    found = resources.files("linkage.configs").iterdir()
    return sorted(r.name[: -len(".toml")] for r in found if r.name.endswith(".toml"))


def builtin_config_with(fingerprint: str) -> Config | None:
    """The built-in config that encodes as ``fingerprint`` does, if one does: how uploads
    made with a config since renamed (``hmis`` before 0.2, now ``hmis-1``) are still read."""
    for name in builtin_config_names():
        config = load_config(builtin_config_path(name))
        if config.fingerprint == fingerprint:
            return config
    return None


def builtin_config_path(name: str) -> Path:
    """Path of a config shipped with linkage (``hmis`` or ``febrl``). The name may come from
    an upload's header: only a plain name is looked up, never a path."""
    if not (name.isascii() and name.replace("-", "_").isidentifier() and len(name) <= 64):
        raise ConfigError(f"no built-in config named {name[:64]!r}")
    res = resources.files("linkage.configs").joinpath(f"{name}.toml")
    with resources.as_file(res) as p:
        if not p.is_file():
            raise ConfigError(f"no built-in config named '{name}'")
        return Path(p)
