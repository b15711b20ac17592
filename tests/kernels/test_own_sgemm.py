"""nnfast's own float32 GEMM (csrc/nnf_sgemm.c) against float64 NumPy.

Sizes straddle its 12-row blocks (and the 8-row tail kernel), 32-column panels (and B read in
place, unpacked, for a few rows), 256-deep k-blocks and 1 MiB packed-B
blocks; every transpose combination and strided operand; alpha/beta; and the property the
training team relies on: a block of C's columns computed alone equals the same columns of the
whole product, bit for bit. Runs at one thread, where the own GEMM takes every shape of at
least 8 rows and 24 columns, once per kernel this CPU has (AVX-512's 12x32 tiles and AVX2's
6x16, selected by ``NNFAST_GEMM=avx2``, which also turns the kernel on where AVX2 is the best
the CPU has: there it is off by default); on a CPU with neither the same checks exercise the
BLAS.
"""

import os

import numpy as np
import pytest

import nnfast as nf
from nnfast import _blas
from nnfast._kernels import blas as _kblas
from helpers import threads

OWN = _kblas.own_sgemm_available() and os.environ.get("NNFAST_GEMM", "").lower() != "blas"
KERNELS = {2: ["best", "avx2"], 1: ["avx2"]}.get(_kblas.own_sgemm_isa(), ["best"]) if OWN else ["best"]


@pytest.fixture(params=KERNELS, autouse=True)
def kernel(request, monkeypatch):
    """Every test once per own-GEMM kernel the CPU can run."""
    if request.param == "avx2":
        monkeypatch.setenv("NNFAST_GEMM", "avx2")
        _blas.select()
        assert _blas.own_sgemm_isa() == "AVX2"
    try:
        yield request.param
    finally:
        monkeypatch.undo()
        _blas.select()

# (m, k, n): ragged row blocks, one or several panels with a ragged last one, k past 256 and
# 512 (two and three k-blocks), n*k past 256 Ki floats (two packed column blocks).
SHAPES = [(8, 1, 24), (12, 256, 32), (13, 257, 33), (25, 7, 65), (37, 513, 100),
          (128, 784, 256), (61, 1000, 300), (100, 30, 31),
          # ragged last row blocks of 8 (in place on AVX-512's tail kernel), 4 and 7 (strips)
          (20, 300, 64), (64, 129, 40), (19, 64, 33),
          # from 768 rows the tiles run in groups of ~384 rows, transposed A copied into strips:
          # two and three groups, a ragged last strip, k past one k-block
          (768, 40, 33), (1031, 300, 50), (2048, 128, 64)]


def _operands(m, k, n, ta, tb, seed=0):
    rng = np.random.default_rng(seed + m * 7 + k * 3 + n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def _reference(a, b, ta, tb):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64.T if ta else a64) @ (b64.T if tb else b64)


def _gemm(a, b, c, ta, tb, alpha=1.0, beta=0.0):
    """c := alpha op(a) op(b) + beta c in the own GEMM whatever the shape (the dispatcher would
    send small products to the BLAS), or through the kernel layer where there is none."""
    k = a.shape[0] if ta else a.shape[1]
    lda, ldb = a.strides[0] // 4, b.strides[0] // 4
    if not (OWN and _kblas.own_sgemm(a, b, c, ta, tb, k, lda, ldb, alpha, beta)):
        _kblas.gemm(a, b, c, ta, tb, k, lda, ldb, alpha, beta)
    return c


def _product(a, b, ta, tb):
    m = a.shape[1] if ta else a.shape[0]
    n = b.shape[0] if tb else b.shape[1]
    return _gemm(a, b, np.empty((m, n), np.float32), ta, tb)


def _tol(k):
    return 4e-6 * max(1.0, k) ** 0.5


def test_the_own_gemm_is_on_by_default_only_with_avx512(monkeypatch):
    monkeypatch.delenv("NNFAST_GEMM", raising=False)
    _blas.select()
    best = _kblas.own_sgemm_isa()  # the kernel the CPU would run: 2 AVX-512, 1 AVX2, 0 none
    assert _blas.own_sgemm() == (_kblas.own_sgemm_available() and best == 2)
    assert _blas.own_sgemm_isa() == ("AVX-512" if _blas.own_sgemm() else None)
    if _kblas.own_sgemm_available():
        monkeypatch.setenv("NNFAST_GEMM", "avx2")  # the opt-in, on either CPU
        _blas.select()
        assert _blas.own_sgemm() and _blas.own_sgemm_isa() == "AVX2"
        with threads(1):
            assert _kblas.own_sgemm_takes(128, 256, 784)


def test_the_own_gemm_is_used_where_the_cpu_has_it():
    assert OWN == _blas.own_sgemm()  # the fixture selected a kernel the CPU has
    with threads(1):
        assert _kblas.own_sgemm_takes(128, 256, 784) == OWN
        assert not _kblas.own_sgemm_takes(1, 256, 784)   # batch-1 rows: padding, the BLAS
        assert not _kblas.own_sgemm_takes(128, 10, 128)  # 10 columns of a 32-wide panel
        assert not _kblas.own_sgemm_takes(32, 64, 64)    # OpenBLAS's small-matrix kernels...
        assert _kblas.own_sgemm_takes(32, 64, 64, transpose_b=True) == OWN  # ...but not NT
    with threads(2):  # a lone caller with two threads: OpenBLAS's pool for the big ones
        assert not _kblas.own_sgemm_takes(128, 256, 784)
        assert _kblas.own_sgemm_takes(16, 32, 64, transpose_b=True) == OWN  # too small to split


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matches_float64_reference(m, k, n, ta, tb):
    a, b = _operands(m, k, n, ta, tb)
    expected = _reference(a, b, ta, tb)
    got = _product(a, b, ta, tb)
    scale = np.abs(expected).max() + 1.0
    np.testing.assert_allclose(got, expected, rtol=0, atol=_tol(k) * scale)


@pytest.mark.parametrize("m", [29, 800])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_strided_operands(ta, tb, m):
    """Leading dimensions wider than the rows (views into bigger arrays), with one group of
    rows and with two. (A C wider than its columns is what the training team writes;
    tests/test_plan.py checks that path.)"""
    k, n = 300, 70
    a_big, b_big = _operands(m + 5, k + 9, n + 11, ta, tb, seed=1)
    a = a_big[:k, :m] if ta else a_big[:m, :k]
    b = b_big[:n, :k] if tb else b_big[:k, :n]
    c = np.full((m, n), 7.0, np.float32)
    with threads(1):
        _gemm(a, b, c, ta, tb)
    expected = _reference(a, b, ta, tb)
    np.testing.assert_allclose(c, expected, rtol=0, atol=_tol(k) * (np.abs(expected).max() + 1))


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 0.0), (1.0, 1.0), (-2.0, 0.25),
                                        (0.0, 3.0), (0.0, 0.0)])
def test_alpha_beta(alpha, beta):
    m, k, n = 40, 600, 50
    a, b = _operands(m, k, n, False, False, seed=2)
    c0 = np.random.default_rng(9).standard_normal((m, n)).astype(np.float32)
    with threads(1):
        got = _gemm(a, b, c0.copy(), False, False, alpha, beta)
    expected = alpha * _reference(a, b, False, False) + beta * c0.astype(np.float64)
    np.testing.assert_allclose(got, expected, rtol=0,
                               atol=_tol(k) * (np.abs(expected).max() + 1))


def test_beta_zero_never_reads_c():
    a, b = _operands(30, 40, 64, False, False, seed=3)
    c = np.full((30, 64), np.nan, np.float32)
    with threads(1):
        _gemm(a, b, c, False, False, 1.0, 0.0)
    assert np.isfinite(c).all()


def test_nan_and_inf_propagate():
    a, b = _operands(24, 50, 40, False, False, seed=4)
    a[3, 7] = np.nan
    b[9, 33] = np.inf
    got = _product(a, b, False, False)
    assert np.isnan(got[3]).all()
    col = got[:, 33]
    assert np.isnan(col[3]) and not np.isfinite(np.delete(col, 3)).any()


@pytest.mark.skipif(not OWN, reason="a property of the own GEMM, not promised by a BLAS")
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_column_blocks_equal_the_whole_product_bit_for_bit(ta, tb):
    """The training team gives each thread a block of C's columns (a view of B)."""
    m, k, n = 50, 700, 200
    a, b = _operands(m, k, n, ta, tb, seed=5)
    whole = _product(a, b, ta, tb)
    for c0, c1 in [(0, 96), (96, 200), (16, 57), (160, 200), (3, 5)]:
        bb = b[c0:c1] if tb else b[:, c0:c1]
        np.testing.assert_array_equal(_product(a, bb, ta, tb), whole[:, c0:c1])


@pytest.mark.skipif(not OWN, reason="a property of the own GEMM, not promised by a BLAS")
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_row_groups_equal_rows_computed_alone_bit_for_bit(ta, tb):
    """From 768 rows the tiles run in groups (transposed A copied into strips): the same
    multiply-adds in the same order as rows computed in one group."""
    m, k, n = 1031, 300, 70
    a, b = _operands(m, k, n, ta, tb, seed=6)
    whole = _product(a, b, ta, tb)
    for r0, r1 in [(0, 100), (380, 500), (1000, 1031), (7, 8)]:
        aa = a[:, r0:r1] if ta else a[r0:r1]
        np.testing.assert_array_equal(_product(aa, b, ta, tb), whole[r0:r1])


@pytest.mark.skipif(not OWN, reason="a property of the own GEMM, not promised by a BLAS")
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("tail", [1, 4, 7, 8, 11])
def test_ragged_last_rows_equal_the_same_rows_in_full_tiles_bit_for_bit(ta, tb, tail):
    """A ragged last row block runs on the tail kernel (8 rows on AVX-512, 4 on AVX2: in place
    when it has exactly that many rows, else a zero-padded strip) or on a padded full-height
    strip: every element is still the chain a full tile computes."""
    k, n = 300, 70
    full = 48  # a multiple of both kernels' tile heights (12, 6)
    a, b = _operands(full, k, n, ta, tb, seed=9)
    whole = _product(a, b, ta, tb)
    m = 24 + tail  # two or four full tiles, then `tail` rows
    aa = a[:, :m] if ta else a[:m]
    np.testing.assert_array_equal(_product(np.ascontiguousarray(aa), b, ta, tb), whole[:m])


@pytest.mark.skipif(not OWN, reason="a property of the own GEMM, not promised by a BLAS")
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("m", [1, 7, 8, 11, 12, 20, 23, 32, 64])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (-0.5, 0.75)])
def test_b_read_in_place_equals_packed_b_bit_for_bit(ta, m, alpha, beta):
    """Up to 64 rows a row-major B with whole 32-column panels is read in place on AVX-512 (no
    packing), here through a view whose rows lie wider apart than its columns, whatever the
    last row block (none, 8 rows in place, 1-7 or 9-11 rows copied into a strip); the rows
    equal the same rows of a 96-row product, whose B is packed, bit for bit."""
    k, n = 300, 96
    a_all, b_big = _operands(96, k, n + 13, ta, False, seed=10)
    b = b_big[:, :n]  # ldb = n + 13
    c0 = _operands(96, 1, n, False, False, seed=11)[1][:1].repeat(96, axis=0)  # C for beta
    packed = _gemm(a_all, b, c0.copy(), ta, False, alpha, beta)
    a = np.ascontiguousarray(a_all[:, :m] if ta else a_all[:m])
    direct = _gemm(a, b, c0[:m].copy(), ta, False, alpha, beta)
    np.testing.assert_array_equal(direct, packed[:m])


@pytest.mark.parametrize("m,k,n,tb", [(128, 784, 256, False), (32, 64, 64, False),
                                      (32, 64, 64, True), (5, 300, 40, False)])
def test_dispatch_through_matmul(m, k, n, tb):
    """nnfast.kernels.matmul picks the own GEMM or the BLAS by shape; both agree with float64."""
    a, b = _operands(m, k, n, False, tb, seed=8)
    expected = _reference(a, b, False, tb)
    for nt in (1, 2):
        with threads(nt):
            got = nf.kernels.matmul(a, b, transpose_b=tb)
        np.testing.assert_allclose(got, expected, rtol=0,
                                   atol=_tol(k) * (np.abs(expected).max() + 1))


def test_same_bits_as_one_thread_when_called_with_two():
    """With two threads the big products go to the BLAS; results agree to rounding."""
    a, b = _operands(128, 784, 256, False, False, seed=6)
    with threads(1):
        one = nf.kernels.matmul(a, b)
    with threads(2):
        two = nf.kernels.matmul(a, b)
    np.testing.assert_allclose(one, two, rtol=0, atol=_tol(784) * (np.abs(one).max() + 1))


@pytest.mark.skipif(not OWN, reason="no own GEMM kernel on this CPU, or NNFAST_GEMM=blas")
def test_blas_switch_round_trip():
    a, b = _operands(128, 128, 96, False, False, seed=7)
    with threads(1):
        assert _kblas.own_sgemm_takes(128, 96, 128)
        own = nf.kernels.matmul(a, b)
        try:
            _blas.select(own_sgemm=False)
            assert not _blas.own_sgemm()
            assert not _kblas.own_sgemm_takes(128, 96, 128)
            theirs = nf.kernels.matmul(a, b)
        finally:
            _blas.select()
    assert _blas.own_sgemm()
    np.testing.assert_allclose(own, theirs, rtol=0, atol=_tol(128) * (np.abs(own).max() + 1))
