"""The fast kernel against the numpy reference, on random and adversarial filters."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.errors import LinkageError
from linkage.matching.candidates import dice_candidates, dice_candidates_reference, kernel


def _same(got, want) -> None:
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])
    assert np.array_equal(got[2], want[2])  # exact: same float64 formula


def _filters(rng: np.random.Generator, n: int, nbytes: int, density: float) -> np.ndarray:
    return np.packbits(rng.random((n, nbytes * 8)) < density, axis=1)


def _noisy(rng: np.random.Generator, base: np.ndarray, flip: float) -> np.ndarray:
    noise = np.packbits(rng.random((base.shape[0], base.shape[1] * 8)) < flip, axis=1)
    return np.bitwise_xor(base, noise)


@settings(deadline=None, max_examples=60)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_a=st.integers(0, 40),
    n_b=st.integers(0, 40),
    nbytes=st.sampled_from([1, 7, 8, 13, 64, 128]),
    density=st.floats(0.0, 1.0),
    threshold=st.sampled_from([0.3, 0.5, 0.7, 0.8, 0.95, 1.0]),
    k=st.sampled_from([None, 1, 2, 5]),
    dedup=st.booleans(),
)
def test_matches_reference(seed, n_a, n_b, nbytes, density, threshold, k, dedup) -> None:
    rng = np.random.default_rng(seed)
    a = _filters(rng, n_a, nbytes, density)
    b = (
        None
        if dedup
        else np.concatenate([_noisy(rng, a, 0.05), _filters(rng, n_b, nbytes, density)])
    )
    if not dedup and len(b) == 0:
        b = _filters(rng, 0, nbytes, density)
    _same(dice_candidates(a, b, threshold, k), dice_candidates_reference(a, b, threshold, k))


@pytest.mark.parametrize("dedup", [False, True])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("nbytes", [16, 1064])
def test_adversarial_filters(dedup: bool, k: int | None, nbytes: int) -> None:
    """Empty, all-ones, identical and one-bit filters, duplicated so ties abound. 1064 bytes
    is 33 whole vectors and a tail word: all-ones rows would wrap the kernel's byte counters
    if it summed more than 31 vectors before widening them."""
    rows = [
        np.zeros(nbytes, np.uint8),
        np.full(nbytes, 255, np.uint8),
        np.packbits(np.eye(nbytes * 8, dtype=np.uint8)[3]),
        np.packbits(np.eye(nbytes * 8, dtype=np.uint8)[3] | np.eye(nbytes * 8, dtype=np.uint8)[4]),
    ]
    a = np.array(rows * 5, np.uint8)
    b = None if dedup else np.array(rows[::-1] * 3, np.uint8)
    for threshold in (0.1, 0.5, 2 / 3, 0.8, 1.0):
        _same(dice_candidates(a, b, threshold, k), dice_candidates_reference(a, b, threshold, k))
    # two empty filters never match, even at the lowest threshold
    ra, _rb, _ = dice_candidates(np.zeros((3, 8), np.uint8), None, 0.01)
    assert len(ra) == 0


def test_block_boundaries_and_row_overflow(monkeypatch) -> None:
    """Small blocks and tiny per-row buffers force every path: several blocks, rescans."""
    monkeypatch.setattr(kernel, "BLOCK_ROWS", 7)
    monkeypatch.setattr(kernel, "ROW_BUFFER", 2)
    monkeypatch.setattr(kernel, "_SLOT_BYTES", 0)  # no sampled widening of the buffers
    rng = np.random.default_rng(5)
    a = _filters(rng, 53, 32, 0.4)
    b = np.concatenate([_noisy(rng, a, 0.1), _noisy(rng, a, 0.1)])
    for th in (0.4, 0.6, 0.8):
        _same(dice_candidates(a, b, th), dice_candidates_reference(a, b, th))
        _same(dice_candidates(a, None, th), dice_candidates_reference(a, None, th))
        _same(dice_candidates(a, b, th, 2), dice_candidates_reference(a, b, th, 2))


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 2 / 3, 0.7, 0.8, 0.9, 0.95, 1.0])
def test_need_table_is_the_exact_float_boundary(threshold: float) -> None:
    """The kernel keeps a pair when shared >= need[pa + pb]; that must be exactly the pairs
    whose float64 score 2*shared/denom reaches the threshold, for every possible denominator."""
    need = kernel._need(threshold, 2048)
    denom = np.arange(1, 2049)
    assert np.all(2.0 * need[1:] / denom >= threshold)
    below = need[1:] - 1
    assert np.all((below < 0) | (2.0 * below / denom < threshold))
    assert need[0] > 1024  # two empty filters: no overlap is enough


def test_threads_do_not_change_the_answer() -> None:
    rng = np.random.default_rng(9)
    a = _filters(rng, 400, 128, 0.3)
    b = _noisy(rng, a, 0.04)
    one = dice_candidates(a, b, 0.7, threads=1)
    two = dice_candidates(a, b, 0.7, threads=2)
    _same(one, two)
    assert len(one[0]) >= 390  # the noisy copies are found


def test_candidate_bound_is_a_clear_error() -> None:
    a = np.full((50, 16), 255, np.uint8)
    with pytest.raises(LinkageError, match="more than 100 candidate pairs"):
        dice_candidates(a, None, 0.5, max_candidates=100)
    ra, _, _ = dice_candidates(a, None, 0.5, k=1, max_candidates=100)
    assert len(ra) <= 50


def test_bad_arguments() -> None:
    a = np.zeros((2, 8), np.uint8)
    with pytest.raises(ValueError, match="threshold"):
        dice_candidates(a, threshold=0.0)
    with pytest.raises(ValueError, match="same length"):
        dice_candidates(a, np.zeros((2, 16), np.uint8))
    with pytest.raises(ValueError, match="k must be"):
        dice_candidates(a, k=0)


def test_portable_path_without_avx2(tmp_path) -> None:
    """On a CPU without AVX2 (ARM, old x86) the tile kernel sums counts with generic vector
    code; compiled for a generic x86 CPU, it must still agree with the reference."""
    script = (
        "import numpy as np\n"
        "from linkage.matching.candidates import (\n"
        "    dice_candidates, dice_candidates_reference, kernel)\n"
        "assert not kernel._AVX2\n"
        "rng = np.random.default_rng(3)\n"
        "a = np.packbits(rng.random((37, 1064 * 8)) < 0.3, axis=1)\n"
        "b = np.concatenate([a[::2] ^ np.packbits(rng.random((19, 1064 * 8)) < 0.02, axis=1), a])\n"
        "for got, want in zip(dice_candidates(a, b, 0.6), dice_candidates_reference(a, b, 0.6)):\n"
        "    assert np.array_equal(got, want)\n"
        "print('ok')\n"
    )
    env = {
        **os.environ,
        "NUMBA_CPU_NAME": "generic",
        "NUMBA_CPU_FEATURES": "",
        "NUMBA_CACHE_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
