"""Fused losses against their float64 NumPy twins, finite differences and (optionally) PyTorch."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast as nf
from nnfast import reference as ref
from helpers import DTYPES, central_difference, layouts, threads, tol, torch_or_skip

K = nf.kernels


# ------------------------------------------------------------------------------------------
# One input generator per loss: (input, target, kwargs); the input is argument 0, the target 1.
# ------------------------------------------------------------------------------------------

def _probs(rng, n, c):
    z = rng.standard_normal((n, c)) * 2.0
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _make(name, n, c, dtype, rng):
    if name == "softmax_cross_entropy":
        return (rng.standard_normal((n, c)) * 3).astype(dtype), rng.integers(0, c, n), {}
    if name == "categorical_cross_entropy":
        return (rng.standard_normal((n, c)) * 3).astype(dtype), _probs(rng, n, c).astype(dtype), {}
    if name == "probs_sparse":
        return _probs(rng, n, c).astype(dtype), rng.integers(0, c, n), {}
    if name == "probs_dense":
        return _probs(rng, n, c).astype(dtype), _probs(rng, n, c).astype(dtype), {}
    if name == "sigmoid_cross_entropy":
        return (rng.standard_normal((n, c)) * 3).astype(dtype), rng.uniform(0, 1, (n, c)).astype(dtype), {}
    if name == "binary_cross_entropy":
        return rng.uniform(0.02, 0.98, (n, c)).astype(dtype), rng.uniform(0, 1, (n, c)).astype(dtype), {}
    if name == "huber_loss":
        return (rng.standard_normal((n, c)) * 2).astype(dtype), rng.standard_normal((n, c)).astype(dtype), {"delta": 1.3}
    return rng.standard_normal((n, c)).astype(dtype), rng.standard_normal((n, c)).astype(dtype), {}


NAMES = ["softmax_cross_entropy", "categorical_cross_entropy", "probs_sparse", "probs_dense",
         "sigmoid_cross_entropy", "binary_cross_entropy", "mse_loss", "mae_loss", "huber_loss"]
SMOOTHED = ["softmax_cross_entropy", "categorical_cross_entropy", "sigmoid_cross_entropy",
            "binary_cross_entropy"]
ELEMENTWISE = ["sigmoid_cross_entropy", "binary_cross_entropy", "mse_loss", "mae_loss", "huber_loss"]


def _fn(module, name):
    return getattr(module, "cross_entropy_from_probs" if name.startswith("probs_") else name)


def _norm(name, x):
    """The mean's count: the gradient times it is O(1)."""
    return max(1, x.size if name in ELEMENTWISE else x.shape[0])


def check_against_reference(name, x, t, kw, *, scale=1.0, **extra):
    """Kernel (loss, grad) == twin (loss, grad) to the tolerance of x's dtype."""
    dtype = x.dtype
    loss, grad = _fn(K, name)(x, t, **kw, **extra)
    rloss, rgrad = _fn(ref, name)(x, t, **kw)
    assert isinstance(loss, float)
    assert grad.dtype == dtype and grad.shape == x.shape
    tl = tol(dtype, scale)
    np.testing.assert_allclose(loss, rloss, rtol=tl["rtol"], atol=tl["atol"])
    m = _norm(name, x)
    np.testing.assert_allclose(np.asarray(grad, np.float64) * m, np.asarray(rgrad, np.float64) * m,
                               **tol(dtype, scale * 2))
    return loss, grad


# ------------------------------------------------------------------------------------------
# Against the float64 twin: sizes, dtypes, layouts, out=, sample weights, label smoothing
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n,c", [(1, 1), (1, 7), (7, 5), (33, 17), (600, 129)])
def test_matches_reference(name, n, c, dtype):
    if name in ("softmax_cross_entropy", "categorical_cross_entropy", "probs_dense") and c == 1:
        c = 2  # one class makes these losses identically 0: keep the test informative
    rng = np.random.default_rng(n * 1000 + c)
    x, t, kw = _make(name, n, c, dtype, rng)
    check_against_reference(name, x, t, kw, scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_every_layout_of_every_array(name, dtype):
    rng = np.random.default_rng(3)
    x0, t0, kw = _make(name, 9, 6, dtype, rng)
    expected = _fn(ref, name)(x0, t0, **kw)
    for lx, x in layouts(x0):
        for lt, t in layouts(t0):
            loss, grad = _fn(K, name)(x, t, **kw)
            np.testing.assert_allclose(loss, expected[0], **tol(dtype, 4), err_msg=f"{lx} x {lt}")
            np.testing.assert_allclose(grad, expected[1], **tol(dtype, 4), err_msg=f"{lx} x {lt}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_sample_weight(name, dtype):
    rng = np.random.default_rng(5)
    x, t, kw = _make(name, 40, 9, dtype, rng)
    w = rng.uniform(0.0, 3.0, 40).astype(dtype)
    w[3] = 0.0
    loss, grad = check_against_reference(name, x, t, {**kw, "sample_weight": w}, scale=4)
    # a list, integers and strided memory are converted; floats of the other dtype refused
    for w_other in (list(w.tolist()), np.repeat(w, 2)[::2]):
        l2, g2 = _fn(K, name)(x, t, **kw, sample_weight=w_other)
        np.testing.assert_allclose(l2, loss, **tol(dtype, 4))
        np.testing.assert_allclose(g2, grad, **tol(dtype, 4))
    l_int, _ = _fn(K, name)(x, t, **kw, sample_weight=np.arange(40) % 3)
    l_ref, _ = _fn(K, name)(x, t, **kw, sample_weight=(np.arange(40) % 3).astype(dtype))
    assert l_int == l_ref
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(TypeError, match="one float dtype.*sample_weight"):
        _fn(K, name)(x, t, **kw, sample_weight=w.astype(other))
    # a zero weight zeroes that sample's gradient; all-ones weights change nothing
    assert np.all(grad[3] == 0)
    l1, g1 = _fn(K, name)(x, t, **kw, sample_weight=np.ones(40, dtype))
    l0, g0 = _fn(K, name)(x, t, **kw)
    assert l1 == l0 and np.array_equal(g1, g0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SMOOTHED)
@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_label_smoothing(name, dtype, eps):
    rng = np.random.default_rng(11)
    x, t, kw = _make(name, 25, 8, dtype, rng)
    check_against_reference(name, x, t, {**kw, "label_smoothing": eps}, scale=4)


def test_label_smoothing_hand_worked():
    # c = 4, eps = 0.2, equal logits: t = 0.8 onehot + 0.05, softmax = 1/4 everywhere,
    # loss = log 4 (the targets sum to 1), dlogits = (0.25 - t) / n.
    loss, grad = K.softmax_cross_entropy(np.zeros((2, 4)), [1, 2], label_smoothing=0.2)
    assert loss == pytest.approx(np.log(4), rel=1e-14)
    expected = np.full((2, 4), 0.2) / 2
    expected[0, 1] = expected[1, 2] = (0.25 - 0.85) / 2
    np.testing.assert_allclose(grad, expected, rtol=1e-14, atol=1e-16)


def test_sigmoid_label_smoothing_is_keras():
    # Keras: t' = t (1 - eps) + eps / 2; at logit 0 the gradient is (0.5 - t') / n.
    loss, grad = K.sigmoid_cross_entropy(np.zeros(2), np.array([0.0, 1.0]), label_smoothing=0.2)
    np.testing.assert_allclose(grad, [(0.5 - 0.1) / 2, (0.5 - 0.9) / 2], rtol=1e-14)
    assert loss == pytest.approx(np.log(2), rel=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_out_and_in_place(name, dtype):
    rng = np.random.default_rng(7)
    x, t, kw = _make(name, 21, 6, dtype, rng)
    expected_loss, expected_grad = _fn(K, name)(x, t, **kw)
    out = np.full_like(x, np.nan)
    loss, grad = _fn(K, name)(x, t, **kw, out=out)
    assert grad is out and loss == expected_loss and np.array_equal(out, expected_grad)
    x_copy = x.copy()
    loss, grad = _fn(K, name)(x_copy, t, **kw, out=x_copy)
    assert grad is x_copy and loss == expected_loss and np.array_equal(x_copy, expected_grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_empty_batch(name, dtype):
    rng = np.random.default_rng(0)
    x, t, kw = _make(name, 0, 5, dtype, rng)
    loss, grad = _fn(K, name)(x, t, **kw)
    assert np.isnan(loss) and grad.shape == (0, 5) and grad.dtype == dtype
    rloss, _ = _fn(ref, name)(x, t, **kw)
    assert np.isnan(rloss)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_zero_outputs_give_nan(name):
    x = np.zeros((3, 0))
    loss, grad = _fn(K, name)(x, np.zeros((3, 0)))
    assert np.isnan(loss) and grad.shape == (3, 0)


# ------------------------------------------------------------------------------------------
# Gradients against central differences of the twin's loss (float64)
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, smoothing", [(n, 0.0) for n in NAMES] + [(n, 0.15) for n in SMOOTHED])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(name, smoothing, weighted):
    rng = np.random.default_rng(17)
    x, t, kw = _make(name, 4, 5, np.float64, rng)
    if name.startswith("probs_"):  # keep p away from 0 where -log(p) curves too fast for FD
        x = rng.uniform(0.1, 0.9, x.shape)
    if name == "mae_loss":  # keep |r| away from the kink at 0
        t = x - np.sign(rng.standard_normal(x.shape)) * rng.uniform(0.1, 1.0, x.shape)
    if name == "huber_loss":  # and from the kinks at +-delta
        r = rng.uniform(0.1, 3.0, x.shape) * np.sign(rng.standard_normal(x.shape))
        r[np.abs(np.abs(r) - kw["delta"]) < 0.1] += 0.3
        t = x - r
    if smoothing:
        kw = {**kw, "label_smoothing": smoothing}
    if weighted:
        kw = {**kw, "sample_weight": rng.uniform(0.1, 2.0, 4)}
    _, grad = _fn(K, name)(x, t, **kw)
    numeric = central_difference(lambda v: _fn(ref, name)(v, t, **kw)[0], x, eps=1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_one_hand_worked_example():
    # logits (1, 2, 3), label 2: softmax = e^z / (e + e^2 + e^3).
    z = np.array([[1.0, 2.0, 3.0]])
    s = np.exp(z) / np.exp(z).sum()
    loss, grad = K.softmax_cross_entropy(z, np.array([2]))
    assert loss == pytest.approx(-np.log(s[0, 2]), rel=1e-14)
    assert loss == pytest.approx(0.40760596444438, rel=1e-12)
    np.testing.assert_allclose(grad, s - [[0, 0, 1]], rtol=1e-13)


# ------------------------------------------------------------------------------------------
# Extreme inputs
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits_stay_finite_and_exact(dtype):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [5.0, 1000.0, 999.0]], dtype)
    y = np.array([1, 2, 2])
    loss, grad = K.softmax_cross_entropy(z, y)
    rloss, rgrad = ref.softmax_cross_entropy(z, y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx((2000.0 + 0.0 + 1.0 + np.log1p(np.exp(-1.0))) / 3, rel=1e-6)
    np.testing.assert_allclose(loss, rloss, rtol=1e-6)
    np.testing.assert_allclose(grad, rgrad, **tol(dtype, 4))
    t = np.eye(3, dtype=dtype)[y]
    loss_c, grad_c = K.categorical_cross_entropy(z, t, label_smoothing=0.1)
    rloss_c, rgrad_c = ref.categorical_cross_entropy(z, t, label_smoothing=0.1)
    np.testing.assert_allclose(loss_c, rloss_c, rtol=1e-6)
    np.testing.assert_allclose(grad_c, rgrad_c, **tol(dtype, 4))
    x = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype)
    tt = np.array([[0.0, 1.0], [0.0, 1.0]], dtype)
    loss_s, grad_s = K.sigmoid_cross_entropy(x, tt)
    assert loss_s == pytest.approx((1000.0 + 1000.0 + 0.0 + 0.0) / 4, rel=1e-6)
    np.testing.assert_allclose(grad_s, [[0.25, -0.25], [0.0, 0.0]], atol=1e-7)


def test_float32_softmax_exp_is_accurate_over_its_whole_range():
    # shifted logits from 0 down past the float32 underflow (-87 .. -104) and below
    rng = np.random.default_rng(43)
    z = rng.uniform(-130.0, 0.0, (200, 64)).astype(np.float32)
    z[:, 0] = 0.0
    z[:, 1] = rng.uniform(-1.0, 0.0, 200)
    y = rng.integers(0, 64, 200)
    for eps in (0.0, 0.3):
        loss, grad = K.softmax_cross_entropy(z, y, label_smoothing=eps)
        rloss, rgrad = ref.softmax_cross_entropy(z, y, label_smoothing=eps)
        np.testing.assert_allclose(loss, rloss, rtol=2e-6)
        np.testing.assert_allclose(grad * 200, rgrad * 200, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_probabilities_are_clipped_like_keras(dtype):
    p = np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.7]], dtype)
    t = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype)
    loss, grad = K.binary_cross_entropy(p, t)
    rloss, rgrad = ref.binary_cross_entropy(p, t)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, rloss, rtol=1e-5)
    assert np.all(grad[:2] == 0)  # every clipped probability has a zero gradient
    np.testing.assert_allclose(grad, rgrad, **tol(dtype, 4))
    # -log(1e-7) for the two wrong certain answers, out of 6 elements
    np.testing.assert_allclose(loss, (2 * -np.log(1e-7) + 2 * -np.log(1 - 1e-7)
                                      - np.log(0.3) - np.log(0.3)) / 6, rtol=1e-5)
    loss_c, grad_c = K.cross_entropy_from_probs(p, np.array([0, 0, 1]))
    assert loss_c == pytest.approx((-np.log(1e-7) - np.log(1 - 1e-7) - np.log(0.7)) / 3, rel=1e-5)
    assert grad_c[0, 0] == 0 and grad_c[1, 0] == 0
    np.testing.assert_allclose(grad_c[2, 1], -1 / 0.7 / 3, rtol=1e-6)


def test_nan_input_gives_nan_loss():
    z = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    loss, grad = K.softmax_cross_entropy(z, [0, 1])
    assert np.isnan(loss) and np.all(np.isnan(grad[0])) and np.all(np.isfinite(grad[1]))
    loss, _ = K.mse_loss(np.array([np.nan, 1.0]), np.zeros(2))
    assert np.isnan(loss)


# ------------------------------------------------------------------------------------------
# Threads, shapes and label types
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_thread_count_does_not_change_a_bit(name):
    rng = np.random.default_rng(23)
    n, c = (700, 300) if name not in ELEMENTWISE else (1000, 250)
    x, t, kw = _make(name, n, c, np.float32, rng)
    w = rng.uniform(0.5, 1.5, n).astype(np.float32)
    with threads(1):
        l1, g1 = _fn(K, name)(x, t, **kw, sample_weight=w)
    with threads(2):
        l2, g2 = _fn(K, name)(x, t, **kw, sample_weight=w)
    assert l1 == l2
    assert np.array_equal(g1, g2)
    check_against_reference(name, x, t, {**kw, "sample_weight": w}, scale=10)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "probs_sparse", "mse_loss",
                                  "sigmoid_cross_entropy"])
def test_batches_beyond_the_stack_scratch(name):
    # > 8192 rows (row losses) or > 512 Ki elements (elementwise): block sums live on the heap
    rng = np.random.default_rng(47)
    n, c = (9000, 3) if name not in ELEMENTWISE else (600_001, 1)
    x, t, kw = _make(name, n, c, np.float64, rng)
    with threads(1):
        l1, g1 = _fn(K, name)(x, t, **kw)
    with threads(2):
        l2, g2 = _fn(K, name)(x, t, **kw)
    assert l1 == l2 and np.array_equal(g1, g2)
    check_against_reference(name, x, t, kw, scale=10)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", DTYPES)
def test_single_output_shapes(name, dtype):
    rng = np.random.default_rng(29)
    x, t, kw = _make(name, 13, 1, dtype, rng)
    w = rng.uniform(0.5, 2.0, 13).astype(dtype)
    expected, egrad = _fn(ref, name)(x, t, **kw, sample_weight=w)
    for xs, ts in ((x, t), (x, t[:, 0]), (x[:, 0], t[:, 0]), (x[:, 0], t)):
        loss, grad = _fn(K, name)(xs, ts, **kw, sample_weight=w)
        assert grad.shape == xs.shape
        np.testing.assert_allclose(loss, expected, **tol(dtype, 4))
        np.testing.assert_allclose(grad.reshape(-1), egrad.reshape(-1), **tol(dtype, 4))


@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64,
                                         np.uint64, np.float32, np.float64])
def test_any_integer_label_dtype(label_dtype):
    rng = np.random.default_rng(31)
    z = rng.standard_normal((12, 5)).astype(np.float32)
    y = rng.integers(0, 5, 12)
    expected = K.softmax_cross_entropy(z, y)
    got = K.softmax_cross_entropy(z, y.astype(label_dtype))
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1])
    got = K.cross_entropy_from_probs(_probs(rng, 12, 5).astype(np.float32), y.astype(label_dtype))
    assert np.isfinite(got[0])
    got = K.softmax_cross_entropy(z, list(y))
    assert got[0] == expected[0]
    got = K.softmax_cross_entropy(z, y[:, None])  # (n, 1) labels
    assert got[0] == expected[0]


@given(n=st.integers(0, 40), c=st.integers(1, 40), dtype=st.sampled_from(DTYPES),
       eps=st.sampled_from([0.0, 0.05, 0.5]), name=st.sampled_from(NAMES))
def test_hypothesis_shapes(n, c, dtype, eps, name):
    rng = np.random.default_rng(n * 41 + c)
    x, t, kw = _make(name, n, c, dtype, rng)
    if name in SMOOTHED:
        kw = {**kw, "label_smoothing": eps}
    loss, grad = _fn(K, name)(x, t, **kw)
    rloss, rgrad = _fn(ref, name)(x, t, **kw)
    if n == 0:
        assert np.isnan(loss) and grad.shape == (0, c)
        return
    np.testing.assert_allclose(loss, rloss, **tol(dtype, 8))
    m = _norm(name, x)
    np.testing.assert_allclose(grad * m, rgrad * m, **tol(dtype, 8))


# ------------------------------------------------------------------------------------------
# PyTorch as an independent oracle (skipped without torch)
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_softmax_cross_entropy_matches_torch(dtype, eps):
    torch = torch_or_skip()
    rng = np.random.default_rng(37)
    z = (rng.standard_normal((64, 10)) * 4).astype(dtype)
    y = rng.integers(0, 10, 64)
    w = rng.uniform(0.2, 2.0, 64).astype(dtype)
    zt = torch.tensor(z, requires_grad=True)
    per = torch.nn.functional.cross_entropy(zt, torch.tensor(y), label_smoothing=eps, reduction="none")
    (per * torch.tensor(w)).mean().backward()
    loss, grad = K.softmax_cross_entropy(z, y, label_smoothing=eps, sample_weight=w)
    np.testing.assert_allclose(loss, (per * torch.tensor(w)).mean().item(), **tol(dtype, 10))
    np.testing.assert_allclose(grad * 64, zt.grad.numpy() * 64, **tol(dtype, 10))
    zt.grad = None
    torch.nn.functional.cross_entropy(zt, torch.tensor(y), label_smoothing=eps).backward()
    loss, grad = K.softmax_cross_entropy(z, y, label_smoothing=eps)
    np.testing.assert_allclose(grad * 64, zt.grad.numpy() * 64, **tol(dtype, 10))
    # dense soft targets: torch takes class probabilities too
    t = _probs(rng, 64, 10).astype(dtype)
    zt.grad = None
    out = torch.nn.functional.cross_entropy(zt, torch.tensor(t), label_smoothing=eps)
    out.backward()
    loss, grad = K.categorical_cross_entropy(z, t, label_smoothing=eps)
    np.testing.assert_allclose(loss, out.item(), **tol(dtype, 10))
    np.testing.assert_allclose(grad * 64, zt.grad.numpy() * 64, **tol(dtype, 10))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, torch_name", [
    ("sigmoid_cross_entropy", "binary_cross_entropy_with_logits"),
    ("binary_cross_entropy", "binary_cross_entropy"),
    ("mse_loss", "mse_loss"), ("mae_loss", "l1_loss"), ("huber_loss", "huber_loss"),
])
def test_elementwise_losses_match_torch(name, torch_name, dtype):
    torch = torch_or_skip()
    rng = np.random.default_rng(41)
    x, t, kw = _make(name, 50, 3, dtype, rng)
    w = rng.uniform(0.2, 2.0, 50).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    per = getattr(torch.nn.functional, torch_name)(xt, torch.tensor(t), reduction="none", **kw)
    total = (per * torch.tensor(w)[:, None]).mean()
    total.backward()
    loss, grad = _fn(K, name)(x, t, **kw, sample_weight=w)
    np.testing.assert_allclose(loss, total.item(), **tol(dtype, 10))
    np.testing.assert_allclose(grad * x.size, xt.grad.numpy() * x.size, **tol(dtype, 10))


# ------------------------------------------------------------------------------------------
# Bad input: the right exception, naming the argument
# ------------------------------------------------------------------------------------------

Z = np.zeros((3, 4))
Y = np.array([0, 1, 3])


class TestErrors:
    @pytest.mark.parametrize("name", NAMES)
    def test_mixed_dtypes(self, name):
        x, t, kw = _make(name, 3, 4, np.float32, np.random.default_rng(0))
        if t.dtype.kind == "f":
            with pytest.raises(TypeError, match="one float dtype"):
                _fn(K, name)(x, t.astype(np.float64), **kw)
        with pytest.raises(TypeError, match="float32 or float64"):
            _fn(K, name)(x.astype(np.int64), t, **kw)
        with pytest.raises(TypeError, match="out"):
            _fn(K, name)(x, t, **kw, out=np.empty(x.shape, np.float64))

    @pytest.mark.parametrize("name", NAMES)
    def test_bad_out(self, name):
        x, t, kw = _make(name, 3, 4, np.float64, np.random.default_rng(0))
        with pytest.raises(ValueError, match=r"out.*\(3, 4\)"):
            _fn(K, name)(x, t, **kw, out=np.empty((4, 3)))
        with pytest.raises(ValueError, match="C-contiguous"):
            _fn(K, name)(x, t, **kw, out=np.empty((3, 8))[:, ::2])
        buf = np.zeros(x.size + 1)
        xv = buf[:-1].reshape(x.shape)
        xv[...] = x
        with pytest.raises(ValueError, match="overlap"):  # overlapping, but not x itself
            _fn(K, name)(xv, t, **kw, out=buf[1:].reshape(x.shape))
        if t.dtype.kind == "f":
            with pytest.raises(ValueError, match="overlap"):
                _fn(K, name)(x, t, **kw, out=t)

    @pytest.mark.parametrize("bad, exc, match", [
        (np.array([0, 1, 4]), ValueError, r"labels in \[0, 4\).*4"),
        (np.array([0, -1, 2]), ValueError, r"labels in \[0, 4\).*-1"),
        (np.array([0.0, 1.5, 2.0]), TypeError, "labels"),
        (np.array([0, 1]), ValueError, r"labels of shape \(3,\)"),
        (np.array([[0, 1, 2]]), ValueError, "labels"),
        (np.array([True, False, True]), TypeError, "labels"),
    ])
    def test_bad_labels(self, bad, exc, match):
        with pytest.raises(exc, match=match):
            K.softmax_cross_entropy(Z, bad)
        with pytest.raises(exc, match=match.replace("labels", "targets")):
            K.cross_entropy_from_probs(Z + 0.25, bad)

    @pytest.mark.parametrize("name", SMOOTHED)
    @pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan")])
    def test_bad_label_smoothing(self, name, eps):
        x, t, kw = _make(name, 3, 4, np.float64, np.random.default_rng(0))
        with pytest.raises(ValueError, match="label_smoothing"):
            _fn(K, name)(x, t, **kw, label_smoothing=eps)
        with pytest.raises(TypeError, match="label_smoothing"):
            _fn(K, name)(x, t, **kw, label_smoothing="0.1")

    @pytest.mark.parametrize("delta", [-1.0, 0.0])
    def test_bad_delta(self, delta):
        with pytest.raises(ValueError, match="delta"):
            K.huber_loss(Z, Z, delta=delta)

    @pytest.mark.parametrize("epsilon", [-1e-7, 0.5, 2.0])
    def test_bad_epsilon(self, epsilon):
        with pytest.raises(ValueError, match="epsilon"):
            K.binary_cross_entropy(Z + 0.5, Z, epsilon=epsilon)
        with pytest.raises(ValueError, match="epsilon"):
            K.cross_entropy_from_probs(Z + 0.25, Y, epsilon=epsilon)

    @pytest.mark.parametrize("name", NAMES)
    def test_bad_sample_weight(self, name):
        x, t, kw = _make(name, 3, 4, np.float64, np.random.default_rng(0))
        with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\).*\(4,\)"):
            _fn(K, name)(x, t, **kw, sample_weight=np.ones(4))
        with pytest.raises(ValueError, match="sample_weight"):
            _fn(K, name)(x, t, **kw, sample_weight=np.ones((3, 1)))
        with pytest.raises(TypeError, match="sample_weight"):
            _fn(K, name)(x, t, **kw, sample_weight=np.array(["a", "b", "c"]))

    def test_wrong_shapes_are_named(self):
        with pytest.raises(ValueError, match=r"logits to be 2-D.*\(4,\)"):
            K.softmax_cross_entropy(np.zeros(4), [0])
        with pytest.raises(ValueError, match=r"logits with at least one column.*\(3, 0\)"):
            K.softmax_cross_entropy(np.zeros((3, 0)), [0, 0, 0])
        with pytest.raises(ValueError, match=r"logits.shape=\(3, 4\), targets.shape=\(3, 5\)"):
            K.categorical_cross_entropy(Z, np.zeros((3, 5)))
        with pytest.raises(ValueError, match=r"probs.shape=\(3, 4\), targets.shape=\(3, 5\)"):
            K.cross_entropy_from_probs(Z, np.zeros((3, 5)))
        with pytest.raises(ValueError, match=r"pred.shape=\(3, 4\), target.shape=\(3,\)"):
            K.mse_loss(Z, np.zeros(3))
        with pytest.raises(ValueError, match=r"logits.shape=\(3, 4\), targets.shape=\(4, 3\)"):
            K.sigmoid_cross_entropy(Z, np.zeros((4, 3)))
        with pytest.raises(ValueError, match=r"pred to be 1-D or 2-D"):
            K.mae_loss(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
        with pytest.raises(ValueError, match=r"probs.*2-D"):
            K.cross_entropy_from_probs(np.zeros(3), Y)
