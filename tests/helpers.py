"""Test helpers: input layouts, tolerances, finite differences, optional oracles."""

import contextlib

import numpy as np
import pytest

DTYPES = (np.float32, np.float64)

# Relative/absolute tolerances for a kernel result against a float64 reference.
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-11, atol=1e-12)}


def tol(dtype, scale=1.0):
    t = TOL[np.dtype(dtype)]
    return dict(rtol=t["rtol"] * scale, atol=t["atol"] * scale)


def assert_close(actual, expected, dtype=None, scale=1.0, err_msg=""):
    """Compare to a float64 reference with the tolerance of ``dtype`` (default actual's)."""
    dtype = np.asarray(actual).dtype if dtype is None else dtype
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               err_msg=err_msg, **tol(dtype, scale))


def layouts(a):
    """Yield ``(name, array)``: ``a`` as C-ordered, F-ordered and strided (non-contiguous) views.

    All hold the same values as ``a``.
    """
    a = np.asarray(a)
    yield "C", np.ascontiguousarray(a)
    if a.ndim >= 2:
        yield "F", np.asfortranarray(a)
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    yield "strided", view


def random_array(shape, dtype, rng, low=-3.0, high=3.0):
    return rng.uniform(low, high, size=shape).astype(dtype)


def central_difference(f, x, eps=1e-6):
    """Gradient of scalar ``f`` at float64 array ``x`` by central differences."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@contextlib.contextmanager
def threads(n):
    import nnfast as nf

    before = nf.get_num_threads()
    nf.set_num_threads(n)
    try:
        yield
    finally:
        nf.set_num_threads(before)


def torch_or_skip():
    """Import torch for an oracle comparison, or skip the test cleanly."""
    return pytest.importorskip("torch")
