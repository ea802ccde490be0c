"""Hardening: pure functions on packed filters that make frequency and pattern attacks harder.

Every function takes an ``(n, bytes)`` uint8 array packed with ``numpy.packbits`` and returns a
new one; none of them looks at anything but bits, so they compose in any order the config gives.
What each defends against and what it costs is in ``docs/security.md``.

Keyed steps take their permutation from :func:`keyed_permutation`, which is defined here bit for
bit (BLAKE2b in counter mode driving a Fisher-Yates shuffle) rather than borrowed from a random
number library, whose streams may change between versions: two agencies with different numpy
releases must still set the same bits.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from linkage.formats.config import HardeningStep

Packed = npt.NDArray[np.uint8]


def keyed_permutation(key: bytes, size: int) -> npt.NDArray[np.int64]:
    """A permutation of ``range(size)`` determined by ``key`` alone."""
    need = size * 8
    stream = bytearray()
    counter = 0
    while len(stream) < need:
        stream += hashlib.blake2b(
            counter.to_bytes(8, "little"), key=key[:64], digest_size=64
        ).digest()
        counter += 1
    draws = np.frombuffer(bytes(stream[:need]), dtype="<u8")
    perm = list(range(size))
    for i in range(size - 1, 0, -1):
        j = int(draws[i]) % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int64)


def permute(packed: Packed, perm: npt.NDArray[np.int64]) -> Packed:
    """Move bit ``perm[i]`` to position ``i`` in every filter."""
    bits = np.unpackbits(packed, axis=1)
    return np.packbits(bits[:, perm], axis=1)


def balance(packed: Packed, perm: npt.NDArray[np.int64]) -> Packed:
    """Append the complement and shuffle: every filter then has exactly half its bits set,
    so popcount no longer reveals name length and bit frequencies flatten towards 1/2."""
    doubled = np.concatenate([packed, np.invert(packed)], axis=1)
    return permute(doubled, perm)


def xor_fold(packed: Packed) -> Packed:
    """XOR the two halves: a set bit no longer tells which of two positions (and so which
    token) set it; the filter halves in length."""
    half = packed.shape[1] // 2
    return np.bitwise_xor(packed[:, :half], packed[:, half:])


def rule90(packed: Packed) -> Packed:
    """Elementary cellular automaton rule 90: each bit becomes the XOR of its two neighbours
    (cyclically), so no output bit maps to a single token position."""
    bits = np.unpackbits(packed, axis=1)
    out = np.bitwise_xor(np.roll(bits, 1, axis=1), np.roll(bits, -1, axis=1))
    return np.packbits(out, axis=1)


def blip(packed: Packed, probability: float, rng: np.random.Generator) -> Packed:
    """BLoom-and-flIP randomised response: flip each bit independently with ``probability``.

    The flips must be fresh randomness (never derived from the record), or repeated uploads of
    the same record would let an observer average them away."""
    bits = np.unpackbits(packed, axis=1)
    flips = rng.random(bits.shape) < probability
    return np.packbits(np.bitwise_xor(bits, flips.astype(np.uint8)), axis=1)


def apply(
    packed: Packed,
    steps: tuple[HardeningStep, ...],
    perms: dict[int, npt.NDArray[np.int64]],
    rng: np.random.Generator,
) -> Packed:
    """Apply ``steps`` in order; ``perms[i]`` is the keyed permutation of step ``i``."""
    for i, step in enumerate(steps):
        if step.step == "balance":
            packed = balance(packed, perms[i])
        elif step.step == "permute":
            packed = permute(packed, perms[i])
        elif step.step == "xor_fold":
            packed = xor_fold(packed)
        elif step.step == "rule90":
            packed = rule90(packed)
        elif step.step == "blip":
            packed = blip(packed, step.probability, rng)
    return packed


def permutation_sizes(bits: int, steps: tuple[HardeningStep, ...]) -> dict[int, int]:
    """For each keyed step, the number of bits its permutation must cover."""
    sizes: dict[int, int] = {}
    for i, step in enumerate(steps):
        if step.step == "balance":
            bits *= 2
            sizes[i] = bits
        elif step.step == "permute":
            sizes[i] = bits
        elif step.step == "xor_fold":
            bits //= 2
    return sizes
