"""Human-readable summary of a ``.clk`` file: header, checksum, popcount statistics.

Popcounts are what a coordinator can see anyway; they tell whether filters are too dense (most
bits set: similarities crowd together) or too sparse, and whether hardening did its job
(balancing makes every popcount exactly half the length).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linkage.formats.activity import ACTIVITY, AS_OF, Situation, unpack
from linkage.formats.container import CLKS, FIELD_CLKS, ClkReader
from linkage.formats.household import HOUSEHOLD
from linkage.formats.household import unpack as unpack_households


def summarize(path: Path) -> list[str]:
    """Lines describing ``path``; raises ContainerError if it is damaged."""
    reader = ClkReader(path)
    header = reader.header
    counts: list[np.ndarray] = []
    field_counts: list[np.ndarray] = []
    situations: list[np.ndarray] = []
    households: list[np.ndarray] = []
    heads = 0
    n_fields = len(header.fields)
    for block in reader:
        if ACTIVITY in block.sections:
            situations.append(unpack(block.sections[ACTIVITY]).situation)
        if HOUSEHOLD in block.sections:
            members = unpack_households(block.sections[HOUSEHOLD])
            households.append(members.household[members.household != 0])
            heads += int(members.head.sum())
        counts.append(np.bitwise_count(block.sections[CLKS]).sum(axis=1))
        if FIELD_CLKS in block.sections:
            per = block.sections[FIELD_CLKS].reshape(len(block.ids), n_fields, -1)
            field_counts.append(np.bitwise_count(per).sum(axis=2))
    pop = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    lines = [
        f"file:              {path}",
        "checksum:          ok",
        f"agency:            {header.agency}",
        f"created:           {header.created}",
        f"producer:          {header.producer}",
        f"records:           {len(pop)}",
        f"config:            {header.config_name}",
        f"config fingerprint:{' ' if header.config_fingerprint else ''}{header.config_fingerprint}",
        f"key check value:   {header.key_check_value}",
        f"record ids:        {header.id_kind}",
        f"record filters:    {header.filter_length} bits",
        f"fields:            {', '.join(header.fields)}",
    ]
    if header.field_length:
        lines.append(f"field filters:     {header.field_length} bits each")
    lines.append(f"sections:          {', '.join(s.name for s in header.sections)}")
    if header.section(ACTIVITY) is not None:
        found = np.bincount(np.concatenate(situations or [np.zeros(0, np.uint8)]), minlength=6)
        shares = ", ".join(f"{s.name.lower()} {int(found[s])}" for s in Situation)
        lines.append(f"activity as of:    {header.extra.get(AS_OF, '?')}; situations: {shares}")
    if header.section(HOUSEHOLD) is not None:
        named = np.concatenate(households or [np.zeros(0, np.int64)])
        lines.append(
            f"households:        {len(named)} records name one, {len(np.unique(named))} "
            f"households, {heads} heads"
        )
    if len(pop):
        q = np.percentile(pop, [5, 50, 95])
        lines += [
            "popcount:          "
            f"mean {pop.mean():.1f}  sd {pop.std():.1f}  min {pop.min()}  p5 {q[0]:.0f}  "
            f"median {q[1]:.0f}  p95 {q[2]:.0f}  max {pop.max()}",
            f"bit density:       {pop.mean() / header.filter_length:.1%} of bits set on average",
            f"empty filters:     {int((pop == 0).sum())}",
        ]
        if field_counts:
            fc = np.concatenate(field_counts)
            for i, name in enumerate(header.fields):
                lines.append(
                    f"  {name:<16} mean popcount {fc[:, i].mean():6.1f}, "
                    f"empty in {(fc[:, i] == 0).mean():.1%} of records"
                )
    return lines
