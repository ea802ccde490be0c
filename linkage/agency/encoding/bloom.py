"""Keyed hashing of tokens into bit positions, and scattering positions into packed filters.

Two schemes:

* ``random`` (default): keyed BLAKE2b of the token is an independent stream of 32-bit words; the
  k positions are those words modulo the filter length. Every token gets k independent positions.
* ``double``: the classic Kirsch-Mitzenmacher construction ``h1 + i*h2 mod l`` from one
  HMAC-SHA256. Kept for comparison with older systems: when ``h2 mod l`` is 0 all k positions
  coincide and the token sets one bit instead of k, which happens for about 1/l of tokens and
  makes those tokens easy to single out.

A token is hashed once and its positions are reduced modulo both the record-level and the
field-level filter length, so one hash serves both outputs.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import numpy.typing as npt

_WORDS_PER_DIGEST = 16  # 64-byte BLAKE2b digest = 16 little-endian uint32 words


def token_positions(
    key: bytes, token: bytes, k: int, scheme: str, lengths: tuple[int, ...]
) -> list[npt.NDArray[np.int64]]:
    """The k bit positions of one token in filters of each of ``lengths`` bits."""
    if scheme == "double":
        digest = hmac.new(key, token, hashlib.sha256).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:16], "little")
        return [
            np.array([(h1 + i * h2) % length for i in range(k)], dtype=np.int64)
            for length in lengths
        ]
    chunks: list[npt.NDArray[np.uint32]] = []
    block = 0
    while len(chunks) * _WORDS_PER_DIGEST < k:
        digest = hashlib.blake2b(
            token, digest_size=64, key=key, salt=block.to_bytes(16, "little")
        ).digest()
        chunks.append(np.frombuffer(digest, dtype="<u4"))
        block += 1
    words = np.concatenate(chunks)[:k].astype(np.int64)
    return [words % length for length in lengths]


def scatter(
    rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], n_rows: int, length: int
) -> npt.NDArray[np.uint8]:
    """Packed filters (n_rows x length/8, big-endian bit order like ``numpy.packbits``) with
    bit ``cols[i]`` set in row ``rows[i]``."""
    bits = np.zeros((n_rows, length), dtype=np.bool_)
    bits[rows, cols] = True
    return np.packbits(bits, axis=1)
