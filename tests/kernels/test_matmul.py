"""matmul and dense_forward against float64 NumPy, every layout and dtype."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast as nf
from nnfast import reference as ref
from helpers import DTYPES, assert_close, layouts, threads

SIZES = [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (7, 13, 5), (64, 33, 129)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", SIZES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_matches_reference_in_every_layout(dtype, m, k, n, ta, tb):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a0 = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b0 = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    expected = ref.matmul(a0, b0, transpose_a=ta, transpose_b=tb)
    for la, a in layouts(a0):
        for lb, b in layouts(b0):
            got = nf.kernels.matmul(a, b, transpose_a=ta, transpose_b=tb)
            assert got.dtype == dtype and got.shape == (m, n)
            assert_close(got, expected, scale=max(1, k) ** 0.5 * 4, err_msg=f"{la} x {lb}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_writes_into_out(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 6)).astype(dtype)
    b = rng.standard_normal((6, 7)).astype(dtype)
    out = np.full((5, 7), np.nan, dtype)
    r = nf.kernels.matmul(a, b, out=out)
    assert r is out
    assert_close(out, ref.matmul(a, b), scale=10)


def test_matmul_large_is_thread_count_invariant():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 150)).astype(np.float32)
    with threads(1):
        r1 = nf.kernels.matmul(a, b)
    with threads(2):
        r2 = nf.kernels.matmul(a, b)
    assert_close(r1, r2, scale=50)


@given(
    m=st.integers(0, 20), k=st.integers(0, 20), n=st.integers(0, 20),
    dtype=st.sampled_from(DTYPES), ta=st.booleans(), tb=st.booleans(),
)
def test_matmul_hypothesis_shapes(m, k, n, dtype, ta, tb):
    rng = np.random.default_rng(m + 31 * k + 977 * n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    assert_close(nf.kernels.matmul(a, b, transpose_a=ta, transpose_b=tb),
                 ref.matmul(a, b, transpose_a=ta, transpose_b=tb), scale=20)


class TestMatmulErrors:
    def test_mixed_dtypes_raise_type_error(self):
        with pytest.raises(TypeError, match="one float dtype"):
            nf.kernels.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float64))

    def test_integer_input_raises_type_error(self):
        with pytest.raises(TypeError, match="float32 or float64"):
            nf.kernels.matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64))

    @pytest.mark.parametrize("flag", ["transpose_a", "transpose_b"])
    @pytest.mark.parametrize("bad", ["yes", 1, None])
    def test_transpose_flags_must_be_bools(self, flag, bad):
        a = np.ones((2, 2), np.float32)
        with pytest.raises(TypeError, match=rf"{flag} to be a bool"):
            nf.kernels.matmul(a, a, **{flag: bad})
        assert nf.kernels.matmul(a, a, **{flag: np.True_}).shape == (2, 2)

    def test_inner_dimension_mismatch_names_both_shapes(self):
        with pytest.raises(ValueError, match=r"a.shape=\(2, 3\).*b.shape=\(4, 2\)"):
            nf.kernels.matmul(np.ones((2, 3)), np.ones((4, 2)))

    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match="2-D"):
            nf.kernels.matmul(np.ones(3), np.ones((3, 2)))

    @pytest.mark.parametrize(
        "out, exc",
        [
            (np.empty((2, 3)), ValueError),               # wrong shape
            (np.empty((2, 2), np.float32), TypeError),   # wrong dtype
            (np.empty((2, 4))[:, ::2], ValueError),       # not contiguous
            ([[0.0, 0.0], [0.0, 0.0]], TypeError),        # not an ndarray
        ],
    )
    def test_bad_out(self, out, exc):
        with pytest.raises(exc, match="out"):
            nf.kernels.matmul(np.ones((2, 2)), np.ones((2, 2)), out=out)

    def test_out_aliasing_an_input_raises(self):
        a = np.ones((3, 3))
        with pytest.raises(ValueError, match="overlap"):
            nf.kernels.matmul(a, np.ones((3, 3)), out=a)

    def test_read_only_out_raises(self):
        out = np.empty((2, 2))
        out.flags.writeable = False
        with pytest.raises(ValueError, match="writable"):
            nf.kernels.matmul(np.ones((2, 2)), np.ones((2, 2)), out=out)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("n", [1, 7, 8, 25, 96, 130])
def test_few_rows_row_kernels_with_row_strides(m, n):
    # float32 products of up to 4 rows run nnf_sgemm.c's row kernels (reading a and b through
    # their row strides, lda and ldb), 5 rows ?gemm; against a float64 product
    rng = np.random.default_rng(m * 1000 + n)
    k = 37
    a_big = rng.standard_normal((m, k + 5)).astype(np.float32)
    b_big = rng.standard_normal((k, n + 3)).astype(np.float32)
    a, b = a_big[:, 2:k + 2], b_big[:, 1:n + 1]  # unit inner stride, padded rows
    expected = a.astype(np.float64) @ b.astype(np.float64)
    for x, w in ((a, b), (np.ascontiguousarray(a), np.ascontiguousarray(b))):
        got = nf.kernels.matmul(x, w)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        out = np.full((m, n), np.nan, np.float32)
        assert nf.kernels.matmul(x, w, out=out) is out
        np.testing.assert_array_equal(out, got)
        y = nf.kernels.dense_forward(x, w, np.ones(n, np.float32), "relu")
        np.testing.assert_allclose(y, np.maximum(expected + 1.0, 0.0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1031, 1024])
def test_one_row_product_of_a_weight_beyond_the_caches(n):
    # a float32 row times a W of 8 MiB or more streams W row by row (nnf_sgemm.c's
    # sgemm_row1_stream_avx2, k rows in fours, masked last columns); each element is still one
    # multiply-add chain over k in order, so the row matches the first row of a two-row product
    # (the column-block kernel) to the bit, and a float64 product to rounding
    rng = np.random.default_rng(n)
    k = 2051  # 2051 x 1031 floats: 8.07 MiB; not a multiple of 4 rows nor of 8 columns
    a = rng.standard_normal((2, k)).astype(np.float32)
    w_big = rng.standard_normal((k, n + 5)).astype(np.float32)
    for w in (w_big[:, :n], np.ascontiguousarray(w_big[:, :n])):
        expected = a.astype(np.float64) @ w.astype(np.float64)
        one = nf.kernels.matmul(a[:1], w)
        np.testing.assert_allclose(one, expected[:1], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(one, nf.kernels.matmul(a, w)[:1])
        y = nf.kernels.dense_forward(a[1:], w, np.ones(n, np.float32), "relu")
        np.testing.assert_allclose(y, np.maximum(expected[1:] + 1.0, 0.0), rtol=1e-4, atol=1e-4)


# ------------------------------------------- the fast path of plain operands ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_operands_take_the_same_gemm_as_the_general_path(dtype):
    """Two C-contiguous operands (the fast path) and the same data sent through the general
    path (a NumPy bool flag, a non-contiguous bias) give the same bits, with and without out."""
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((37, 53)).astype(dtype), rng.standard_normal((53, 29)).astype(dtype)
    general = nf.kernels.matmul(a, b, transpose_a=np.False_)
    np.testing.assert_array_equal(nf.kernels.matmul(a, b), general)
    out = np.full((37, 29), np.nan, dtype)
    assert nf.kernels.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, general)
    bias = rng.standard_normal(29).astype(dtype)
    strided = np.repeat(bias, 2)[::2]
    for act in ("linear", "relu", "tanh"):
        want = nf.kernels.dense_forward(a, b, strided, act)
        np.testing.assert_array_equal(nf.kernels.dense_forward(a, b, bias, act), want)
        y = np.empty((37, 29), dtype)
        assert nf.kernels.dense_forward(a, b, bias, act, out=y) is y
        np.testing.assert_array_equal(y, want)


def test_plain_operands_still_get_every_check():
    s = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="inner dimensions"):
        nf.kernels.matmul(s, s[:3].copy())
    with pytest.raises(ValueError, match="overlap"):
        nf.kernels.matmul(s, s, out=s)
    with pytest.raises(TypeError, match="dtype"):
        nf.kernels.matmul(s, s, out=np.empty((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        nf.kernels.dense_forward(s, s, None, "relu", out=np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="overlap"):
        nf.kernels.dense_forward(s, s.copy(), s[0], "relu", out=s)
    with pytest.raises(ValueError):
        nf.kernels.dense_forward(s, s, None, "no-such-activation")
