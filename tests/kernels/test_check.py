"""The inputs' checks (csrc/nnf_check.c): finiteness against np.isfinite, the range check
against NumPy's comparisons."""

import numpy as np
import pytest

from nnfast._kernels import norm as _norm
from nnfast._ops._validate import all_finite, all_within

CHECKS = {np.float32: _norm.all_finite_f32, np.float64: _norm.all_finite_f64}
BAD = [np.nan, np.inf, -np.inf, -np.nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 15, 4095, 4096, 4097, 70_001])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_finite_arrays_pass(dtype, n, nthreads):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    # the extremes that are still finite: largest, smallest normal and subnormal, zeros
    x[: min(n, 6)] = np.array([np.finfo(dtype).max, -np.finfo(dtype).max, np.finfo(dtype).tiny,
                               np.finfo(dtype).smallest_subnormal, -0.0, 0.0], dtype)[: min(n, 6)]
    assert CHECKS[dtype](x, nthreads) is True


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 17, 4096, 4097, 70_001])
@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_one_bad_value_anywhere_fails(dtype, n, bad, nthreads):
    rng = np.random.default_rng(0)
    for where in {0, n // 2, n - 1, int(rng.integers(n))}:
        x = rng.standard_normal(n).astype(dtype)
        x[where] = bad
        assert CHECKS[dtype](x, nthreads) is False, where


def test_nan_payloads_are_caught():
    bits = np.array([0x7FC00001, 0x7F800001, 0xFFFFFFFF], np.uint32)  # quiet, signalling, -nan
    for b in bits:
        x = np.zeros(33, np.float32)
        x.view(np.uint32)[20] = b
        assert not _norm.all_finite_f32(x, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_helper_matches_numpy_on_any_layout(dtype, layout):
    base = np.random.default_rng(1).standard_normal((37, 41)).astype(dtype)
    x = {"C": base, "F": np.asfortranarray(base), "strided": base[::2, ::3]}[layout]
    assert all_finite(x) is True
    y = x.copy(order="K") if layout != "strided" else base.copy()[::2, ::3]
    y[3, 4] = np.nan
    assert all_finite(y) is False
    assert all_finite(np.array([[1, 2]], np.int64)) is True  # other dtypes: NumPy's answer


WITHIN = {np.float32: _norm.all_within_f32, np.float64: _norm.all_within_f64}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 15, 4095, 4096, 4097, 70_001])
def test_values_inside_the_range_pass_and_one_outside_anywhere_fails(dtype, n):
    rng = np.random.default_rng(n)
    x = rng.uniform(0.0, 1.0, n).astype(dtype)
    x[: min(n, 4)] = np.array([0.0, 1.0, -0.0, np.finfo(dtype).smallest_subnormal], dtype)[: min(n, 4)]
    assert WITHIN[dtype](x, 0.0, 1.0) is True
    for bad in (np.nan, np.inf, -np.inf, -1e-30, np.nextafter(dtype(1), dtype(2)), 7.0):
        for where in {0, n // 2, n - 1} if n else ():
            y = x.copy()
            y[where] = bad
            want = bool(((y >= 0) & (y <= 1)).all())
            assert want is False and WITHIN[dtype](y, 0.0, 1.0) is want, (bad, where)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_range_helper_matches_numpy_on_any_layout(dtype, layout):
    base = np.random.default_rng(2).uniform(-2.0, 3.0, (37, 41)).astype(dtype)
    x = {"C": base, "F": np.asfortranarray(base), "strided": base[::2, ::3]}[layout]
    for lo, hi in [(-2.0, 3.0), (0.0, 1.0), (-1.0, 5.0)]:
        assert all_within(x, lo, hi) is bool(((x >= lo) & (x <= hi)).all())
    y = np.clip(x, 0.0, 1.0)
    y[1, 2] = np.nan
    assert all_within(y, 0.0, 1.0) is False
    assert all_within(np.array([[0, 1]], np.int64), 0, 1) is True  # other dtypes: NumPy's answer
