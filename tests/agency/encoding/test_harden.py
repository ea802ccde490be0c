from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from linkage.agency.encoding import harden

packed = st.integers(1, 6).flatmap(
    lambda n: arrays(np.uint8, (n, 16), elements=st.integers(0, 255))
)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.unpackbits(a, axis=1)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = _bits(a).sum(), _bits(b).sum()
    return 2 * (_bits(a) & _bits(b)).sum() / (pa + pb) if pa + pb else 0.0


def test_keyed_permutation_is_a_permutation_and_depends_on_key() -> None:
    p = harden.keyed_permutation(b"k" * 32, 2048)
    assert sorted(p.tolist()) == list(range(2048))
    assert not np.array_equal(p, harden.keyed_permutation(b"j" * 32, 2048))
    assert np.array_equal(p, harden.keyed_permutation(b"k" * 32, 2048))


@given(packed)
def test_balance_sets_exactly_half_the_bits(a: np.ndarray) -> None:
    perm = harden.keyed_permutation(b"x" * 32, a.shape[1] * 16)
    out = harden.balance(a, perm)
    assert out.shape == (a.shape[0], a.shape[1] * 2)
    assert (_bits(out).sum(axis=1) == a.shape[1] * 8).all()


@given(packed)
def test_xor_fold_halves_and_is_xor_of_halves(a: np.ndarray) -> None:
    out = harden.xor_fold(a)
    bits = _bits(a)
    half = bits.shape[1] // 2
    assert np.array_equal(_bits(out), bits[:, :half] ^ bits[:, half:])


@given(packed)
def test_rule90_is_neighbour_xor(a: np.ndarray) -> None:
    out = _bits(harden.rule90(a))
    bits = _bits(a)
    n = bits.shape[1]
    for i in (0, 5, n - 1):
        assert np.array_equal(out[:, i], bits[:, (i - 1) % n] ^ bits[:, (i + 1) % n])


@given(packed)
def test_permute_preserves_popcount_and_pairwise_dice(a: np.ndarray) -> None:
    perm = harden.keyed_permutation(b"p" * 32, a.shape[1] * 8)
    out = harden.permute(a, perm)
    assert np.array_equal(_bits(out).sum(axis=1), _bits(a).sum(axis=1))
    if a.shape[0] >= 2:
        assert np.isclose(_dice(out[:1], out[1:2]), _dice(a[:1], a[1:2]))


@settings(deadline=None)
@given(st.floats(0.01, 0.3))
def test_blip_flips_about_the_requested_share(p: float) -> None:
    rng = np.random.default_rng(1)
    a = np.zeros((200, 128), np.uint8)
    share = _bits(harden.blip(a, p, rng)).mean()
    assert abs(share - p) < 0.02


def test_apply_composes_in_config_order() -> None:
    from linkage.formats.config import HardeningStep

    a = np.random.default_rng(3).integers(0, 256, (4, 32), dtype=np.uint8)
    steps = (HardeningStep("balance"), HardeningStep("xor_fold"))
    perms = {0: harden.keyed_permutation(b"z" * 32, 512)}
    out = harden.apply(a, steps, perms, np.random.default_rng(0))
    assert np.array_equal(out, harden.xor_fold(harden.balance(a, perms[0])))
    assert harden.permutation_sizes(256, steps) == {0: 512}
