"""Batch norm, layer norm, dropout and gather_rows against their float64 NumPy twins."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast as nf
from nnfast import reference as ref
from nnfast.reference import norm as ref_norm
from helpers import DTYPES, assert_close, central_difference, layouts, threads, torch_or_skip

K = nf.kernels

# (n, d): single row/column, odd sizes, and one large enough to run on several threads.
SHAPES = [(1, 1), (1, 7), (2, 3), (7, 13), (33, 65), (600, 301)]


def _data(shape, dtype, seed, loc=1.5, scale=2.0):
    rng = np.random.default_rng(seed)
    n, d = shape
    x = (loc + scale * rng.standard_normal((n, d))).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, d).astype(dtype)
    beta = rng.standard_normal(d).astype(dtype)
    grad = rng.standard_normal((n, d)).astype(dtype)
    return x, gamma, beta, grad


def _assert_all_close(got, expected, scale, what):
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.dtype == e.dtype and g.shape == e.shape, f"{what}[{i}]"
        assert_close(g, e, scale=scale, err_msg=f"{what}[{i}]")


# ------------------------------------------------------------------------------ forward passes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", ["batch_norm_forward", "layer_norm_forward"])
def test_norm_forward_matches_reference_in_every_layout(op, shape, dtype):
    x0, gamma, beta, _ = _data(shape, dtype, seed=shape[0] * 1000 + shape[1])
    expected = getattr(ref, op)(x0, gamma, beta, epsilon=1e-3)
    for name, x in layouts(x0):
        got = getattr(K, op)(x, gamma, beta, epsilon=1e-3)
        _assert_all_close(got, expected, scale=8, what=f"{op} {name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_inference_matches_reference(shape, dtype):
    x0, gamma, beta, _ = _data(shape, dtype, seed=7)
    rng = np.random.default_rng(8)
    mm = rng.standard_normal(shape[1]).astype(dtype)
    mv = rng.uniform(0.1, 4.0, shape[1]).astype(dtype)
    expected = ref.batch_norm_inference(x0, gamma, beta, mm, mv, epsilon=1e-2)
    for name, x in layouts(x0):
        got = K.batch_norm_inference(x, gamma, beta, mm, mv, epsilon=1e-2)
        assert got.dtype == dtype
        assert_close(got, expected, scale=8, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_statistics_are_sound_for_a_large_mean(dtype):
    # var = E[(x - mean)^2] in two passes: a naive E[x^2] - mean^2 in float32 would lose every
    # digit here.
    x, gamma, beta, _ = _data((257, 19), dtype, seed=3, loc=1e4, scale=1.0)
    y, mean, inv_std = K.batch_norm_forward(x, gamma, beta)
    ey, emean, einv = ref.batch_norm_forward(x, gamma, beta)
    assert_close(mean, emean)
    assert_close(inv_std, einv, scale=4)
    # y subtracts a float32 mean split into two parts: still accurate to a few ulp of 1e4.
    assert_close(y, ey, scale=40 if dtype == np.float64 else 200)
    np.testing.assert_allclose(y.mean(axis=0), beta, atol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_statistics_are_sound_for_a_large_mean(dtype):
    x, gamma, beta, _ = _data((19, 257), dtype, seed=4, loc=-1e4, scale=1.0)
    got = K.layer_norm_forward(x, gamma, beta)
    expected = ref.layer_norm_forward(x, gamma, beta)
    assert_close(got[1], expected[1])
    assert_close(got[2], expected[2], scale=4)
    assert_close(got[0], expected[0], scale=40 if dtype == np.float64 else 200)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_of_a_single_row_is_finite(dtype):
    x, gamma, beta, _ = _data((1, 5), dtype, seed=5)
    y, mean, inv_std = K.batch_norm_forward(x, gamma, beta, epsilon=1e-3)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(mean, x[0])
    assert_close(inv_std, np.full(5, 1 / np.sqrt(1e-3)))
    assert_close(y, beta[None, :])  # variance 0: every value is its mean


@pytest.mark.parametrize("dtype", DTYPES)
def test_constant_columns_and_rows_normalize_to_beta(dtype):
    x = np.full((9, 4), 3.25, dtype)
    gamma, beta = np.full(4, 2, dtype), np.arange(4, dtype=dtype)
    np.testing.assert_array_equal(K.batch_norm_forward(x, gamma, beta)[0], np.tile(beta, (9, 1)))
    np.testing.assert_array_equal(K.layer_norm_forward(x, gamma, beta)[0], np.tile(beta, (9, 1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_ops_write_into_out_and_in_place(dtype):
    x, gamma, beta, _ = _data((11, 6), dtype, seed=6)
    mm, mv = np.zeros(6, dtype), np.ones(6, dtype)
    for op, args in [
        ("batch_norm_forward", (gamma, beta)),
        ("layer_norm_forward", (gamma, beta)),
        ("batch_norm_inference", (gamma, beta, mm, mv)),
    ]:
        expected = getattr(ref, op)(x, *args)
        out = np.full(x.shape, np.nan, dtype)
        got = getattr(K, op)(x, *args, out=out)
        y = got[0] if isinstance(got, tuple) else got
        assert y is out
        assert_close(out, expected[0] if isinstance(expected, tuple) else expected, scale=8)
        xi = x.copy()
        got = getattr(K, op)(xi, *args, out=xi)  # in place
        assert (got[0] if isinstance(got, tuple) else got) is xi
        np.testing.assert_array_equal(xi, out)


@given(
    n=st.integers(1, 40), d=st.integers(1, 40), dtype=st.sampled_from(DTYPES),
    eps=st.sampled_from([0.0, 1e-5, 1e-3, 0.5]),
)
def test_norm_forward_hypothesis_shapes(n, d, dtype, eps):
    x, gamma, beta, _ = _data((n, d), dtype, seed=n * 41 + d)
    if eps > 0 or n > 1:
        _assert_all_close(K.batch_norm_forward(x, gamma, beta, epsilon=eps),
                          ref.batch_norm_forward(x, gamma, beta, epsilon=eps), 8, "bn")
    if eps > 0 or d > 1:
        _assert_all_close(K.layer_norm_forward(x, gamma, beta, epsilon=eps),
                          ref.layer_norm_forward(x, gamma, beta, epsilon=eps), 8, "ln")


# ------------------------------------------------------------------------------ empty batches


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batches(dtype):
    x = np.zeros((0, 4), dtype)
    p = np.ones(4, dtype)
    with pytest.raises(ValueError, match=r"x.*at least one row.*\(0, 4\)"):
        K.batch_norm_forward(x, p, p)
    assert K.batch_norm_inference(x, p, p, p, p).shape == (0, 4)
    dx, dg, db = K.batch_norm_backward(x, x, p, p, p)
    assert dx.shape == (0, 4) and dx.dtype == dtype
    np.testing.assert_array_equal(dg, 0)
    np.testing.assert_array_equal(db, 0)
    y, mean, inv_std = K.layer_norm_forward(x, p, p)
    assert y.shape == (0, 4) and mean.shape == (0,) and inv_std.shape == (0,)
    dx, dg, db = K.layer_norm_backward(x, x, p, mean, inv_std)
    assert dx.shape == (0, 4)
    np.testing.assert_array_equal(dg, 0)
    with pytest.raises(ValueError, match=r"x.*at least one feature.*\(3, 0\)"):
        K.layer_norm_forward(np.zeros((3, 0), dtype), p[:0], p[:0])
    y, mean, inv_std = K.batch_norm_forward(np.zeros((3, 0), dtype), p[:0], p[:0])
    assert y.shape == (3, 0) and mean.shape == (0,)


# ------------------------------------------------------------------------------ backward passes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_norm_backward_matches_reference_in_every_layout(kind, shape, dtype):
    x0, gamma, beta, g0 = _data(shape, dtype, seed=shape[0] + 7 * shape[1])
    fwd, bwd = getattr(K, f"{kind}_norm_forward"), getattr(K, f"{kind}_norm_backward")
    _, mean, inv_std = fwd(x0, gamma, beta)
    expected = getattr(ref, f"{kind}_norm_backward")(g0, x0, gamma, mean, inv_std)
    # sums over up to 600 terms: float32 tolerance grows with them
    scale = 8 * max(1, shape[0] if kind == "batch" else shape[1]) ** 0.5
    for lg, g in layouts(g0):
        for lx, x in layouts(x0):
            got = bwd(g, x, gamma, mean, inv_std)
            _assert_all_close(got, expected, scale, f"{kind} {lg}/{lx}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_norm_backward_out_and_in_place(kind, dtype):
    x, gamma, beta, g = _data((13, 10), dtype, seed=9)
    _, mean, inv_std = getattr(K, f"{kind}_norm_forward")(x, gamma, beta)
    bwd = getattr(K, f"{kind}_norm_backward")
    expected = bwd(g, x, gamma, mean, inv_std)
    out = np.empty_like(x)
    assert bwd(g, x, gamma, mean, inv_std, out=out)[0] is out
    np.testing.assert_array_equal(out, expected[0])
    gi = g.copy()
    dx, dgamma, dbeta = bwd(gi, x, gamma, mean, inv_std, out=gi)
    assert dx is gi
    np.testing.assert_array_equal(gi, expected[0])
    np.testing.assert_array_equal(dgamma, expected[1])
    np.testing.assert_array_equal(dbeta, expected[2])


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("shape", [(1, 3), (5, 4), (3, 1), (6, 7)])
def test_norm_backward_matches_finite_differences(kind, shape):
    """dx, dgamma, dbeta against central differences of the twin's forward, float64."""
    eps = 1e-3  # shapes with one element on the statistic's axis: y = beta, dx = 0
    x, gamma, beta, _ = _data(shape, np.float64, seed=sum(shape))
    proj = np.random.default_rng(11).standard_normal(shape)
    fwd = getattr(ref, f"{kind}_norm_forward")

    def loss(x_, g_, b_):
        return float(np.sum(proj * fwd(x_, g_, b_, epsilon=eps)[0]))

    _, mean, inv_std = getattr(K, f"{kind}_norm_forward")(x, gamma, beta, epsilon=eps)
    dx, dgamma, dbeta = getattr(K, f"{kind}_norm_backward")(proj, x, gamma, mean, inv_std)
    tol = dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dx, central_difference(lambda a: loss(a, gamma, beta), x), **tol)
    np.testing.assert_allclose(dgamma, central_difference(lambda a: loss(x, a, beta), gamma), **tol)
    np.testing.assert_allclose(dbeta, central_difference(lambda a: loss(x, gamma, a), beta), **tol)


# ------------------------------------------------------------------------------ threads


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_the_thread_count(dtype):
    x, gamma, beta, g = _data((700, 333), dtype, seed=12)
    idx = np.random.default_rng(13).integers(0, 700, 900)
    mm, mv = np.zeros(333, dtype), np.ones(333, dtype)

    def run():
        bn = K.batch_norm_forward(x, gamma, beta)
        ln = K.layer_norm_forward(x, gamma, beta)
        return [
            *bn, *K.batch_norm_backward(g, x, gamma, bn[1], bn[2]),
            K.batch_norm_inference(x, gamma, beta, mm, mv),
            *ln, *K.layer_norm_backward(g, x, gamma, ln[1], ln[2]),
            *K.dropout_forward(x, 0.25, 99), K.dropout_backward(g, x),
            K.gather_rows(x, idx), K.gather_rows(np.asfortranarray(x), idx),
        ]

    with threads(1):
        one = run()
    with threads(2):
        two = run()
    # Every sum has one order whatever the thread count: bit-identical, not just close.
    for i, (a, b) in enumerate(zip(one, two)):
        np.testing.assert_array_equal(a, b, err_msg=f"result {i}")


# ------------------------------------------------------------------------------ dropout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7, 13), (3, 5, 4), (50_000,)])
def test_dropout_matches_reference_exactly(shape, dtype):
    x0 = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    ey, emask = ref.dropout_forward(x0, 0.4, 2024)
    for name, x in layouts(x0):  # the mask follows the logical (C-order) position
        y, mask = K.dropout_forward(x, 0.4, 2024)
        assert y.dtype == dtype and mask.dtype == dtype and y.shape == shape
        np.testing.assert_array_equal(mask, emask, err_msg=name)
        np.testing.assert_array_equal(y, x0 * mask, err_msg=name)
        assert_close(y, ey, err_msg=name)


def test_dropout_mask_has_the_right_rate_and_values():
    x = np.ones(1_000_000, np.float32)
    for rate in (0.1, 0.5, 0.9):
        y, mask = K.dropout_forward(x, rate, 5)
        scale = np.float32(1 / (1 - rate))
        assert set(np.unique(mask).tolist()) == {0.0, float(scale)}
        keep = (mask > 0).mean()
        assert abs(keep - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / x.size)
        assert abs(mask.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation
        # no visible structure: every block of 1000 keeps about the right fraction
        blocks = (mask > 0).reshape(1000, 1000).mean(axis=1)
        assert np.all(np.abs(blocks - (1 - rate)) < 6 * np.sqrt(rate * (1 - rate) / 1000))


def test_dropout_is_deterministic_and_seeds_are_independent():
    x = np.ones(200_000, np.float64)
    m1 = K.dropout_forward(x, 0.5, 1)[1]
    np.testing.assert_array_equal(m1, K.dropout_forward(x, 0.5, 1)[1])
    for other in (2, 2**63, 2**64 - 1, 1 + 0x9E3779B97F4A7C15):
        m2 = K.dropout_forward(x, 0.5, other)[1]
        agree = (m1 == m2).mean()  # independent masks agree on half the elements
        assert abs(agree - 0.5) < 0.01, other
    # float32 and float64 draw the same mask for a seed
    m32 = K.dropout_forward(x.astype(np.float32), 0.5, 1)[1]
    np.testing.assert_array_equal(m32 > 0, m1 > 0)


def test_dropout_uniforms_are_uniform():
    u = ref_norm.dropout_uniform(12345, 400_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = u.size / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 60  # 19 degrees of freedom: p < 1e-5 above this
    # the compiled hash and the twin's agree bit for bit
    from nnfast._kernels import norm as _k

    for p in (0, 1, 199_999):
        bits = _k.dropout_bits(12345, p)
        assert bits & 0xFFFFFFFF == int(u[2 * p] * 2**32)
        assert bits >> 32 == int(u[2 * p + 1] * 2**32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_rate_zero_copies(dtype):
    x = np.random.default_rng(2).standard_normal((9, 4)).astype(dtype)
    x[0, 0], x[0, 1] = np.nan, -0.0
    y, mask = K.dropout_forward(x, 0.0, 3)
    np.testing.assert_array_equal(y, x)
    assert np.signbit(y[0, 1])
    np.testing.assert_array_equal(mask, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_out_mask_and_in_place(dtype):
    x = np.random.default_rng(3).standard_normal((64, 33)).astype(dtype)
    ey, em = K.dropout_forward(x, 0.3, 77)
    out, mask = np.empty_like(x), np.empty_like(x)
    y, m = K.dropout_forward(x, 0.3, 77, out=out, mask=mask)
    assert y is out and m is mask
    np.testing.assert_array_equal(out, ey)
    np.testing.assert_array_equal(mask, em)
    xi = x.copy()
    assert K.dropout_forward(xi, 0.3, 77, out=xi)[0] is xi
    np.testing.assert_array_equal(xi, ey)
    empty = K.dropout_forward(np.zeros((0, 3), dtype), 0.5, 1)
    assert empty[0].shape == (0, 3) and empty[1].shape == (0, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_backward(dtype):
    rng = np.random.default_rng(4)
    g0 = rng.standard_normal((31, 17)).astype(dtype)
    _, mask = K.dropout_forward(g0, 0.5, 8)
    expected = ref.dropout_backward(g0, mask)
    for name, g in layouts(g0):
        assert_close(K.dropout_backward(g, mask), expected, err_msg=name)
    gi = g0.copy()
    assert K.dropout_backward(gi, mask, out=gi) is gi
    np.testing.assert_array_equal(gi, expected)


# ------------------------------------------------------------------------------ gather_rows


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d,n_out", [(1, 1, 1), (5, 3, 0), (10, 7, 25), (3000, 129, 2000)])
def test_gather_rows_matches_fancy_indexing(n, d, n_out, dtype):
    rng = np.random.default_rng(n + d)
    x0 = rng.standard_normal((n, d)).astype(dtype)
    idx = rng.integers(0, n, n_out)
    for name, x in [*layouts(x0), ("reversed", x0[::-1][::-1]), ("negative", x0[::-1, ::-1])]:
        got = K.gather_rows(x, idx)
        assert got.flags.c_contiguous and got.dtype == dtype
        np.testing.assert_array_equal(got, x[idx], err_msg=name)
    np.testing.assert_array_equal(ref.gather_rows(x0, idx), x0[idx])


@pytest.mark.parametrize("index_dtype", [np.int8, np.uint16, np.int32, np.int64, np.uint64])
def test_gather_rows_takes_any_integer_indices(index_dtype):
    x = np.arange(20.0).reshape(10, 2)
    idx = np.array([9, 0, 3, 3], index_dtype)
    np.testing.assert_array_equal(K.gather_rows(x, idx), x[idx.astype(np.int64)])
    np.testing.assert_array_equal(K.gather_rows(x, [1, 2]), x[[1, 2]])
    assert K.gather_rows(x, []).shape == (0, 2)


def test_gather_rows_other_ranks_and_out():
    rng = np.random.default_rng(5)
    x3 = rng.standard_normal((6, 3, 4)).astype(np.float32)
    idx = np.array([5, 1, 1])
    for name, x in layouts(x3):
        np.testing.assert_array_equal(K.gather_rows(x, idx), x3[idx], err_msg=name)
    x1 = rng.standard_normal(8)
    np.testing.assert_array_equal(K.gather_rows(x1[::2], [3, 0]), x1[::2][[3, 0]])
    out = np.empty((3, 3, 4), np.float32)
    assert K.gather_rows(x3, idx, out=out) is out
    np.testing.assert_array_equal(out, x3[idx])


# ------------------------------------------------------------------------------ oracle


@pytest.mark.torch
def test_norms_agree_with_torch():
    torch = torch_or_skip()
    x, gamma, beta, g = _data((64, 24), np.float64, seed=14)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    ty = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-3)
    ty.backward(torch.tensor(g))
    y, mean, inv_std = K.batch_norm_forward(x, gamma, beta, epsilon=1e-3)
    dx, dgamma, dbeta = K.batch_norm_backward(g, x, gamma, mean, inv_std)
    for ours, theirs in [(y, ty), (dx, tx.grad), (dgamma, tg.grad), (dbeta, tb.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-10)

    tx.grad = tg.grad = tb.grad = None
    ty = torch.nn.functional.layer_norm(tx, (24,), tg, tb, eps=1e-3)
    ty.backward(torch.tensor(g))
    y, mean, inv_std = K.layer_norm_forward(x, gamma, beta, epsilon=1e-3)
    dx, dgamma, dbeta = K.layer_norm_backward(g, x, gamma, mean, inv_std)
    for ours, theirs in [(y, ty), (dx, tx.grad), (dgamma, tg.grad), (dbeta, tb.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-10)


# ------------------------------------------------------------------------------ bad input


class TestErrors:
    x = np.ones((4, 3), np.float32)
    p = np.ones(3, np.float32)

    def test_mixed_dtypes_raise_type_error(self):
        x, p = self.x, self.p
        calls = [
            lambda: K.batch_norm_forward(x, p.astype(np.float64), p),
            lambda: K.batch_norm_inference(x, p, p, p, p.astype(np.float64)),
            lambda: K.batch_norm_backward(x.astype(np.float64), x, p, p, p),
            lambda: K.layer_norm_forward(x, p, p.astype(np.float64)),
            lambda: K.layer_norm_backward(x, x, p, np.ones(4), np.ones(4, np.float32)),
            lambda: K.dropout_backward(x, x.astype(np.float64)),
        ]
        for call in calls:
            with pytest.raises(TypeError, match="one float dtype"):
                call()

    def test_integer_arrays_raise_type_error(self):
        with pytest.raises(TypeError, match="x.*float32 or float64"):
            K.batch_norm_forward(np.ones((2, 3), np.int64), self.p, self.p)
        with pytest.raises(TypeError, match="x.*float32 or float64"):
            K.dropout_forward(np.ones(3, np.int32), 0.5, 1)
        with pytest.raises(TypeError, match="x.*float32 or float64"):
            K.gather_rows(np.ones((3, 2), np.int32), [0])

    def test_wrong_shapes_name_the_argument(self):
        x, p = self.x, self.p
        with pytest.raises(ValueError, match="x to be 2-D"):
            K.batch_norm_forward(np.ones(3, np.float32), p, p)
        with pytest.raises(ValueError, match=r"gamma of shape \(3,\).*\(4,\)"):
            K.batch_norm_forward(x, np.ones(4, np.float32), p)
        with pytest.raises(ValueError, match=r"beta of shape \(3,\)"):
            K.layer_norm_forward(x, p, np.ones((1, 3), np.float32))
        with pytest.raises(ValueError, match="moving_variance"):
            K.batch_norm_inference(x, p, p, p, np.ones(2, np.float32))
        with pytest.raises(ValueError, match=r"grad.shape=\(4, 2\), x.shape=\(4, 3\)"):
            K.batch_norm_backward(np.ones((4, 2), np.float32), x, p, p, p)
        with pytest.raises(ValueError, match=r"mean of shape \(4,\)"):
            K.layer_norm_backward(x, x, p, p, np.ones(4, np.float32))
        with pytest.raises(ValueError, match=r"inv_std of shape \(3,\)"):
            K.batch_norm_backward(x, x, p, p, np.ones(4, np.float32))
        with pytest.raises(ValueError, match="grad.*mask"):
            K.dropout_backward(x, x[:2])

    @pytest.mark.parametrize("eps, exc", [(-1e-3, ValueError), (float("nan"), ValueError),
                                          ("1e-3", TypeError), (None, TypeError)])
    def test_bad_epsilon(self, eps, exc):
        for op in (K.batch_norm_forward, K.layer_norm_forward):
            with pytest.raises(exc, match="epsilon"):
                op(self.x, self.p, self.p, epsilon=eps)

    @pytest.mark.parametrize("rate, exc", [(1.0, ValueError), (-0.1, ValueError), (1.5, ValueError),
                                           (float("nan"), ValueError), ("0.5", TypeError),
                                           (None, TypeError)])
    def test_bad_rate(self, rate, exc):
        with pytest.raises(exc, match="rate"):
            K.dropout_forward(self.x, rate, 1)

    @pytest.mark.parametrize("seed, exc", [(-1, ValueError), (2**64, ValueError), (1.0, TypeError),
                                           (True, TypeError), ("1", TypeError)])
    def test_bad_seed(self, seed, exc):
        with pytest.raises(exc, match="seed"):
            K.dropout_forward(self.x, 0.5, seed)

    def test_seed_accepts_numpy_integers_and_the_full_range(self):
        a = K.dropout_forward(self.x, 0.5, np.uint64(2**64 - 1))[1]
        np.testing.assert_array_equal(a, K.dropout_forward(self.x, 0.5, 2**64 - 1)[1])

    @pytest.mark.parametrize("idx, exc, pattern", [
        ([0, 4], ValueError, r"indices in \[0, 4\).*index 4"),
        ([-1], ValueError, r"indices in \[0, 4\).*index -1"),
        (np.array([3, 0, 7, 1]), ValueError, r"indices in \[0, 4\).*index 7"),
        (np.array([2, -5]), ValueError, r"indices in \[0, 4\).*index -5"),
        (np.array([1, 9], np.int32), ValueError, r"indices in \[0, 4\).*index 9"),
        ([0.0, 1.0], TypeError, "indices.*integers"),
        ([True, False], TypeError, "indices.*integers"),
        ([[0, 1]], ValueError, "indices to be 1-D"),
        (np.array([2**63], np.uint64), ValueError, "indices"),
    ])
    def test_bad_indices(self, idx, exc, pattern):
        with pytest.raises(exc, match=pattern):
            K.gather_rows(self.x, idx)

    def test_gather_from_a_scalar_raises(self):
        with pytest.raises(ValueError, match="x with at least one axis"):
            K.gather_rows(np.float32(1.0), [0])

    @pytest.mark.parametrize("out, exc", [
        (np.empty((4, 2), np.float32), ValueError),               # wrong shape
        (np.empty((4, 3), np.float64), TypeError),                # wrong dtype
        (np.empty((4, 6), np.float32)[:, ::2], ValueError),       # not contiguous
        ([[0.0] * 3] * 4, TypeError),                             # not an ndarray
    ])
    def test_bad_out(self, out, exc):
        x, p = self.x, self.p
        calls = [
            lambda: K.batch_norm_forward(x, p, p, out=out),
            lambda: K.batch_norm_inference(x, p, p, p, p, out=out),
            lambda: K.batch_norm_backward(x, x, p, p, p, out=out),
            lambda: K.layer_norm_forward(x, p, p, out=out),
            lambda: K.layer_norm_backward(x, x, p, np.ones(4, np.float32), np.ones(4, np.float32),
                                          out=out),
            lambda: K.dropout_forward(x, 0.5, 1, out=out),
            lambda: K.dropout_backward(x, x, out=out),
            lambda: K.gather_rows(x, [0, 1, 2, 3], out=out),
        ]
        for call in calls:
            with pytest.raises(exc, match="out"):
                call()

    def test_bad_mask(self):
        with pytest.raises(ValueError, match="mask"):
            K.dropout_forward(self.x, 0.5, 1, mask=np.empty((3, 3), np.float32))
        out = np.empty_like(self.x)
        with pytest.raises(ValueError, match="mask.*overlap"):
            K.dropout_forward(self.x, 0.5, 1, out=out, mask=out)
        with pytest.raises(ValueError, match="mask.*overlap"):
            x = self.x.copy()
            K.dropout_forward(x, 0.5, 1, mask=x)

    def test_out_overlapping_an_input_raises(self):
        x, p = self.x.copy(), self.p
        with pytest.raises(ValueError, match="overlap"):
            K.batch_norm_backward(np.ones_like(x), x, p, p, p, out=x)  # x is not grad
        with pytest.raises(ValueError, match="overlap"):
            K.gather_rows(x, [0, 1, 2, 3], out=x)
        big = np.zeros((8, 3), np.float32)
        with pytest.raises(ValueError, match="overlap"):
            K.layer_norm_forward(big[:4], p, p, out=big[2:6])

    def test_read_only_out_raises(self):
        out = np.empty_like(self.x)
        out.flags.writeable = False
        with pytest.raises(ValueError, match="writable"):
            K.layer_norm_forward(self.x, self.p, self.p, out=out)

    def test_read_only_inputs_are_fine(self):
        x = self.x.copy()
        x.flags.writeable = False
        p = self.p.copy()
        p.flags.writeable = False
        K.batch_norm_forward(x, p, p)
        K.layer_norm_forward(x, p, p)
        K.dropout_forward(x, 0.5, 1)
        K.gather_rows(x, [1])
