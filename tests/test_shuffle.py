"""fit's epoch shuffle (``nnfast._ops.norm.shuffled_range``) against ``Generator.shuffle``."""

import numpy as np
import pytest

from nnfast._ops.norm import shuffled_range

BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox,
                  np.random.SFC64]


def _same_state(a, b):
    """Bit generator states (dicts that may hold arrays) compared value by value."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same_state(a[k], b[k]) for k in a)
    return np.array_equal(a, b)


@pytest.mark.parametrize("bit_generator", BIT_GENERATORS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 31, 150, 1000, 65537])
def test_same_permutation_and_state_as_generator_shuffle(bit_generator, n):
    for seed in (0, 7, 2**40 + 3):
        ref_rng = np.random.Generator(bit_generator(seed))
        rng = np.random.Generator(bit_generator(seed))
        ref_rng.random()  # an odd number of 32-bit draws before: PCG64's buffered half
        rng.random()
        ref_rng.integers(0, 5)
        rng.integers(0, 5)
        for _ in range(3):  # consecutive epochs
            expected = np.arange(n)
            ref_rng.shuffle(expected)
            out = np.full(n, -1, np.int64)
            assert shuffled_range(rng, out) is out
            np.testing.assert_array_equal(out, expected)
            assert _same_state(rng.bit_generator.state, ref_rng.bit_generator.state)
        assert rng.random() == ref_rng.random()


def test_reuses_a_shuffled_buffer():
    rng, ref_rng = np.random.default_rng(3), np.random.default_rng(3)
    out = np.arange(10, dtype=np.int64)[::-1].copy()
    expected = np.arange(10)
    ref_rng.shuffle(expected)
    np.testing.assert_array_equal(shuffled_range(rng, out), expected)


@pytest.mark.parametrize("out", [np.zeros(4, np.int32), np.zeros(4), np.zeros((2, 2), np.int64),
                                 np.zeros(8, np.int64)[::2], [0, 1, 2]])
def test_bad_out_raises_value_error(out):
    with pytest.raises(ValueError, match="out"):
        shuffled_range(np.random.default_rng(0), out)


def test_read_only_out_raises_value_error():
    out = np.zeros(4, np.int64)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        shuffled_range(np.random.default_rng(0), out)


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0), np.random.PCG64(0)])
def test_bad_rng_raises_type_error(rng):
    with pytest.raises(TypeError, match="rng"):
        shuffled_range(rng, np.zeros(3, np.int64))
