"""Activations, their derivatives, softmax, the bias epilogue and bias gradient against the
float64 NumPy twins; float32 math (tanh, erf, normal CDF) against libm; errors."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast as nf
from nnfast import reference as ref
from nnfast._kernels import activations as _k
from helpers import DTYPES, assert_close, central_difference, layouts, threads, torch_or_skip

K = nf.kernels
ELEMENTWISE = [a for a in K.ACTIVATIONS if a != "softmax"]
# Element counts: empty, one, odd, and large enough to run on two threads.
SIZES = [0, 1, 7, 100_003]


def _x(shape, dtype, seed=0, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------- names and codes ----

def test_codes_match_the_c_enum():
    assert K.ACTIVATIONS == ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu",
                             "swish", "softplus", "softmax")
    assert [K.activation_code(a) for a in K.ACTIVATIONS] == list(range(10))
    assert K.activation_code(None) == 0
    assert K.activation_code("silu") == K.activation_code("swish") == 7


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"'relu'.*'softplus'.*received: activation='rleu'"):
        K.activation_code("rleu")


@pytest.mark.parametrize("bad", [1, 1.5, b"relu", ["relu"]])
def test_non_string_name_raises_type_error(bad):
    with pytest.raises(TypeError, match="activation"):
        K.activation_code(bad)


# ---------------------------------------------------------------- forward ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("n", SIZES)
def test_forward_matches_reference(dtype, name, n):
    x = _x(n, dtype, seed=n)
    got = K.activation_forward(x, name)
    assert got.dtype == dtype and got.shape == x.shape
    assert_close(got, ref.activation_forward(x, name), scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_every_layout_and_convenience_function(dtype, name):
    x0 = _x((9, 13), dtype, seed=3)
    expected = ref.activation_forward(x0, name)
    fn = getattr(K, name)  # every activation of DESIGN.md has its own function
    for layout, x in layouts(x0):
        assert_close(K.activation_forward(x, name), expected, scale=4, err_msg=layout)
        got = fn(x)
        assert_close(got, expected, scale=4, err_msg=layout)
        assert not np.shares_memory(got, x), layout  # a new array unless out= says otherwise
    x4 = x0[None, :, :, None]
    assert_close(K.activation_forward(x4, name), expected[None, :, :, None], scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_forward_out_and_in_place(dtype, name):
    x = _x((6, 11), dtype, seed=5)
    expected = ref.activation_forward(x, name)
    out = np.full_like(x, np.nan)
    assert K.activation_forward(x, name, out=out) is out
    assert_close(out, expected, scale=4)
    y = x.copy()
    assert K.activation_forward(y, name, out=y) is y
    assert_close(y, expected, scale=4)


def test_silu_is_swish_and_none_is_linear():
    x = _x(50, np.float32)
    np.testing.assert_array_equal(K.silu(x), K.swish(x))
    np.testing.assert_array_equal(K.activation_forward(x, "silu"), K.swish(x))
    np.testing.assert_array_equal(K.activation_forward(x, None), x)


def test_zero_dimensional_input():
    assert_close(K.sigmoid(np.float64(0.5)), ref.sigmoid(np.float64(0.5)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_inputs_never_overflow_or_nan(dtype):
    big = np.finfo(dtype).max
    x = np.array([-big, -1e30, -1e4, -745.0, -100.0, -88.0, -20.0, -1e-30, -0.0, 0.0, 1e-30,
                  20.0, 88.0, 100.0, 710.0, 1e4, 1e30, big], dtype)
    with np.errstate(all="ignore"):  # the float64 reference under/overflows harmlessly
        for name in ELEMENTWISE:
            y = K.activation_forward(x, name)
            finite = np.isfinite(ref.activation_forward(x, name))
            assert np.all(np.isfinite(y[finite])), name
            assert_close(y, ref.activation_forward(x, name), scale=4, err_msg=name)
    assert K.sigmoid(x)[0] == 0 and K.sigmoid(x)[-1] == 1
    np.testing.assert_array_equal(K.tanh(x[[0, -1]]), [-1, 1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_propagates(dtype):
    x = np.array([np.nan, 1.0], dtype)
    for name in ELEMENTWISE:
        assert np.isnan(K.activation_forward(x, name)[0]), name


# ---------------------------------------------------------------- float32 math ----

def _grid():
    """A dense grid over [-10, 10] plus tiny magnitudes down to the subnormals."""
    dense = np.linspace(-10, 10, 400_001)
    tiny = np.concatenate([np.geomspace(1e-44, 1e-3, 4000), -np.geomspace(1e-44, 1e-3, 4000)])
    return np.concatenate([dense, tiny]).astype(np.float32)


def _ulp_error(got, want):
    want = np.asarray(want, np.float64)
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / ulp


def test_float32_tanh_is_within_a_few_ulp_of_libm():
    x = _grid()
    got = K.tanh(x)
    err = _ulp_error(got, np.tanh(x.astype(np.float64)))
    assert err.max() <= 3, (x[err.argmax()], err.max())
    tiny = np.abs(x) < 1e-3  # tanh(x) ~ x: relative accuracy kept near 0, down to subnormals
    np.testing.assert_allclose(got[tiny], np.tanh(x[tiny].astype(np.float64)), rtol=1.2e-7, atol=0)


def test_float32_erf_accuracy_against_libm():
    from scipy import special

    x = _grid()
    got = np.empty_like(x)
    _k.math_f32(0, x, got)
    want = special.erf(x.astype(np.float64))
    assert np.abs(got - want).max() <= 1.5e-7
    small = np.abs(x) < 0.9  # relative accuracy where erf is small
    assert _ulp_error(got[small], want[small]).max() <= 4
    assert np.all(got[x >= 4] == 1) and np.all(got[x <= -4] == -1)


def test_float32_normal_cdf_keeps_relative_accuracy_in_the_lower_tail():
    from scipy import special

    x = np.linspace(-13, 8, 200_001).astype(np.float32)
    got = np.empty_like(x)
    _k.math_f32(1, x, got)
    want = 0.5 * special.erfc(-x.astype(np.float64) / np.sqrt(2))
    normal = want > np.finfo(np.float32).tiny
    assert _ulp_error(got[normal], want[normal]).max() <= 8


def test_float32_expm1_is_accurate_near_zero():
    x = np.concatenate([np.geomspace(1e-30, 5, 5000), -np.geomspace(1e-30, 20, 5000)])
    x = x.astype(np.float32)
    got = np.empty_like(x)
    _k.math_f32(3, x, got)
    assert _ulp_error(got, np.expm1(x.astype(np.float64))).max() <= 4


# ---------------------------------------------------------------- backward ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("n", SIZES)
def test_backward_matches_reference(dtype, name, n):
    x = _x(n, dtype, seed=n + 1)
    g = _x(n, dtype, seed=n + 2, scale=1.0)
    y = K.activation_forward(x, name)
    expected = ref.activation_backward(g, name, x=x)
    for kwargs in (dict(x=x), dict(y=y), dict(x=x, y=y)):
        if name in ("gelu", "swish") and "x" not in kwargs:
            continue
        got = K.activation_backward(g, name, **kwargs)
        assert got.dtype == dtype and got.shape == x.shape
        assert_close(got, expected, scale=8, err_msg=str(list(kwargs)))


# Past 512 KB of input a thread's loop runs in prefetching blocks (csrc/nnf_act.c); shorter
# calls run one plain loop. Both must give the same bits, whatever the offset and the tail.
STREAMED = 1 << 18  # float32: 1 MB, two threads' chunks of 512 KB; float64 twice that


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_streamed_loops_give_the_bits_of_short_calls(dtype, name, nthreads):
    n = STREAMED + 1_001                            # an odd tail past the last full block
    x = _x(n + 3, dtype, seed=11)[3:]               # not 64-byte aligned
    g = _x(n, dtype, seed=12, scale=1.0)
    piece = 4_099                                   # short calls: the plain loop

    def pieces(fn, *arrays):
        return np.concatenate([fn(*(a[i:i + piece] for a in arrays)) for i in range(0, n, piece)])

    with threads(nthreads):
        y = K.activation_forward(x, name)
        np.testing.assert_array_equal(y, pieces(lambda a: K.activation_forward(a, name), x))
        dx = K.activation_backward(g, name, x=x)
        np.testing.assert_array_equal(
            dx, pieces(lambda gg, a: K.activation_backward(gg, name, x=a), g, x))
        inplace = x.copy()
        K.activation_forward(inplace, name, out=inplace)
        np.testing.assert_array_equal(inplace, y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_backward_in_place_into_grad_and_every_layout(dtype, name):
    x0 = _x((8, 12), dtype, seed=7)
    g0 = _x((8, 12), dtype, seed=8, scale=1.0)
    expected = ref.activation_backward(g0, name, x=x0)
    for lx, x in layouts(x0):
        for lg, g in layouts(g0):
            assert_close(K.activation_backward(g, name, x=x), expected, scale=8, err_msg=lx + lg)
    g = g0.copy()
    y = K.activation_forward(x0, name)
    kw = dict(x=x0) if name in ("gelu", "swish") else dict(y=y)
    assert K.activation_backward(g, name, out=g, **kw) is g
    assert_close(g, expected, scale=8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [*K.ACTIVATIONS, "silu"])
def test_named_backward_functions_match_reference(dtype, name):
    x = _x((9, 13), dtype, seed=21)
    g = _x((9, 13), dtype, seed=22, scale=1.0)
    fn = getattr(K, f"{name}_backward")
    assert fn.__name__ == f"{name}_backward"
    expected = ref.activation_backward(g, "swish" if name == "silu" else name, x=x)
    assert_close(fn(g, x=x), expected, scale=8)
    if name not in ("gelu", "swish", "silu"):
        assert_close(fn(g, y=K.activation_forward(x, name)), expected, scale=8)
    out = np.empty_like(g)
    assert fn(g, x=x, out=out) is out
    with pytest.raises(TypeError):
        fn(g, x)  # x and y are keyword-only: a positional array could be either


def test_named_backward_errors_name_the_argument():
    g = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="x for the gelu derivative"):
        K.gelu_backward(g, y=g)
    with pytest.raises(ValueError, match="neither x nor y"):
        K.relu_backward(g)
    with pytest.raises(TypeError, match="float64"):
        K.tanh_backward(g, x=np.ones(4))


def test_linear_backward_needs_neither_x_nor_y():
    g = _x(5, np.float32)
    np.testing.assert_array_equal(K.activation_backward(g, "linear"), g)


def _loss_weights(shape):
    return np.random.default_rng(11).standard_normal(shape)


@pytest.mark.parametrize("name", K.ACTIVATIONS)
def test_derivatives_match_central_differences(name):
    # Points kept away from the kinks of relu/leaky_relu/elu at 0.
    x = np.random.default_rng(12).uniform(-3, 3, size=(3, 5))
    x[np.abs(x) < 0.1] += 0.3
    w = _loss_weights(x.shape)

    def loss(z):
        return float(np.sum(w * ref.activation_forward(z, name)))

    numeric = central_difference(loss, x)
    got = K.activation_backward(w, name, x=x)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- softmax ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 1), (3, 7), (5, 16), (33, 97), (700, 300)])
def test_softmax_and_log_softmax_match_reference(dtype, shape):
    x0 = _x(shape, dtype, seed=shape[0], scale=5.0)
    for layout, x in layouts(x0):
        s = K.softmax(x)
        assert s.shape == shape and s.dtype == dtype
        assert_close(s, ref.softmax(x0), scale=4, err_msg=layout)
        assert_close(K.log_softmax(x), ref.log_softmax(x0), scale=4, err_msg=layout)
        assert_close(K.activation_forward(x, "softmax"), ref.softmax(x0), scale=4)
    if shape[0] and shape[1]:
        assert_close(s.sum(axis=1), np.ones(shape[0]), scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_max_shifted(dtype):
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -1e30], [0.0, 0.0, 0.0]], dtype)
    s = K.softmax(x)
    ls = K.log_softmax(x)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ls))
    assert_close(s, ref.softmax(x), scale=4)
    assert_close(ls, ref.log_softmax(x), scale=4)
    assert_close(K.softmax(x + 50), s, scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_out_in_place(dtype):
    x = _x((4, 9), dtype)
    expected = ref.log_softmax(x)
    assert K.log_softmax(x, out=x) is x
    assert_close(x, expected, scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backward_matches_reference_from_x_or_y(dtype):
    x = _x((40, 23), dtype, seed=4)
    g = _x((40, 23), dtype, seed=5, scale=1.0)
    expected = ref.activation_backward(g, "softmax", x=x)
    assert_close(K.activation_backward(g, "softmax", x=x), expected, scale=8)
    assert_close(K.activation_backward(g, "softmax", y=K.softmax(x)), expected, scale=8)


# ---------------------------------------------------------------- bias epilogue ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", K.ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1, 1), (5, 17), (300, 129)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_activation_inplace_matches_reference(dtype, name, shape, with_bias):
    z0 = _x(shape, dtype, seed=shape[1])
    bias = _x(shape[1], dtype, seed=99) if with_bias else None
    expected = ref.bias_activation_inplace(z0.copy(), bias, K.activation_code(name))
    z = z0.copy()
    assert K.bias_activation_inplace(z, bias, K.activation_code(name)) is z
    assert_close(z, expected, scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("cols", [7, 1000])
def test_streamed_bias_epilogue_gives_the_bits_of_short_calls(dtype, name, cols):
    rows = (STREAMED + 1_001) // cols                 # past 512 KB: rows prefetched ahead
    z0 = _x((rows, cols), dtype, seed=13)
    bias = _x(cols, dtype, seed=14)
    code = K.activation_code(name)
    z = z0.copy()
    K.bias_activation_inplace(z, bias, code)
    piece = 31                                        # short calls: no prefetch
    expected = np.concatenate([K.bias_activation_inplace(z0[i:i + piece].copy(), bias, code)
                               for i in range(0, rows, piece)])
    np.testing.assert_array_equal(z, expected)


def test_bias_activation_inplace_handles_empty():
    z = np.empty((0, 4), np.float32)
    K.bias_activation_inplace(z, np.zeros(4, np.float32), 1)


# ---------------------------------------------------------------- bias gradient ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (1, 1), (7, 5), (64, 10), (65, 10), (5000, 37)])
def test_bias_grad_matches_reference(dtype, shape):
    g0 = _x(shape, dtype, seed=shape[0])
    for layout, g in layouts(g0):
        got = K.bias_grad(g)
        assert got.shape == (shape[1],) and got.dtype == dtype
        assert_close(got, ref.bias_grad(g0), err_msg=layout)
    out = np.full(shape[1], np.nan, dtype)
    assert K.bias_grad(g0, out=out) is out
    assert_close(out, ref.bias_grad(g0))


def test_bias_grad_float32_accumulates_in_double():
    g = np.full((100_000, 3), 0.1, np.float32)
    expected = np.float32(100_000 * np.float64(np.float32(0.1)))
    np.testing.assert_array_equal(K.bias_grad(g), np.full(3, expected, np.float32))


# ---------------------------------------------------------------- threads ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_the_thread_count(dtype):
    x = _x(300_001, dtype, seed=21)
    g = _x(300_001, dtype, seed=22, scale=1.0)
    m = _x((3000, 101), dtype, seed=23)
    b = _x(101, dtype, seed=24)

    def run():
        r = {}
        for name in ELEMENTWISE:
            r["f" + name] = K.activation_forward(x, name)
            r["b" + name] = K.activation_backward(g, name, x=x)
        r["softmax"] = K.softmax(m)
        r["log_softmax"] = K.log_softmax(m)
        r["softmax_b"] = K.activation_backward(m, "softmax", x=m)
        r["bias_act"] = K.bias_activation_inplace(m.copy(), b, K.activation_code("gelu"))
        r["bias_grad"] = K.bias_grad(m)
        return r

    with threads(1):
        one = run()
    with threads(2):
        two = run()
    for key in one:  # same kernels, same element order: bit-identical
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)


# ---------------------------------------------------------------- hypothesis ----

@given(
    rows=st.integers(0, 40), cols=st.integers(0, 40), dtype=st.sampled_from(DTYPES),
    name=st.sampled_from(K.ACTIVATIONS), scale=st.sampled_from([0.1, 3.0, 30.0]),
)
def test_random_shapes_forward_and_backward(rows, cols, dtype, name, scale):
    x = _x((rows, cols), dtype, seed=rows * 41 + cols, scale=scale)
    g = _x((rows, cols), dtype, seed=rows + cols, scale=1.0)
    assert_close(K.activation_forward(x, name), ref.activation_forward(x, name), scale=4)
    assert_close(K.activation_backward(g, name, x=x), ref.activation_backward(g, name, x=x),
                 scale=16)


# ---------------------------------------------------------------- torch oracle ----

def test_against_torch():
    torch = torch_or_skip()
    F = torch.nn.functional
    x = _x(10_000, np.float64, seed=31, scale=6.0)
    t = torch.from_numpy(x)
    oracles = {
        "relu": F.relu, "leaky_relu": F.leaky_relu, "elu": F.elu, "sigmoid": torch.sigmoid,
        "tanh": torch.tanh, "gelu": F.gelu, "swish": F.silu, "softplus": F.softplus,
    }
    for name, fn in oracles.items():
        np.testing.assert_allclose(K.activation_forward(x, name), fn(t).numpy(), rtol=1e-7,
                                   atol=1e-12, err_msg=name)
        tx = t.clone().requires_grad_(True)
        fn(tx).backward(torch.ones_like(tx))
        np.testing.assert_allclose(K.activation_backward(np.ones_like(x), name, x=x),
                                   tx.grad.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)
    m = x.reshape(100, 100)
    np.testing.assert_allclose(K.softmax(m), torch.softmax(torch.from_numpy(m), 1).numpy(),
                               rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(K.log_softmax(m), F.log_softmax(torch.from_numpy(m), 1).numpy(),
                               rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- errors ----

class TestErrors:
    def test_integer_input(self):
        with pytest.raises(TypeError, match="float32 or float64"):
            K.relu(np.arange(3))

    def test_mixed_dtypes(self):
        with pytest.raises(TypeError, match="one float dtype"):
            K.activation_backward(np.ones(3, np.float32), "relu", y=np.ones(3))

    def test_softmax_needs_2d(self):
        with pytest.raises(ValueError, match="x to be 2-D"):
            K.softmax(np.ones(3))
        with pytest.raises(ValueError, match="2-D"):
            K.activation_forward(np.ones((2, 2, 2)), "softmax")
        with pytest.raises(ValueError, match="grad to be 2-D"):
            K.activation_backward(np.ones(3), "softmax", y=np.ones(3))

    def test_backward_needs_x_or_y(self):
        with pytest.raises(ValueError, match="neither x nor y"):
            K.activation_backward(np.ones(3), "sigmoid")

    @pytest.mark.parametrize("name", ["gelu", "swish", "silu"])
    def test_x_based_derivatives_need_x(self, name):
        with pytest.raises(ValueError, match="Expected x"):
            K.activation_backward(np.ones(3), name, y=np.ones(3))

    def test_shape_mismatch_names_both(self):
        with pytest.raises(ValueError, match=r"grad.shape=\(3,\), x.shape=\(4,\)"):
            K.activation_backward(np.ones(3), "relu", x=np.ones(4))

    @pytest.mark.parametrize(
        "out, exc",
        [
            (np.empty(4), ValueError),
            (np.empty(3, np.float32), TypeError),
            (np.empty(6)[::2], ValueError),
            ([0.0, 0.0, 0.0], TypeError),
        ],
    )
    def test_bad_out(self, out, exc):
        with pytest.raises(exc, match="out"):
            K.relu(np.ones(3), out=out)
        with pytest.raises(exc, match="out"):
            K.activation_backward(np.ones(3), "relu", y=np.ones(3), out=out)

    def test_out_overlapping_input(self):
        x = np.ones(6)
        with pytest.raises(ValueError, match="overlap"):
            K.relu(x[:3], out=x[1:4])
        y = np.ones(3)
        with pytest.raises(ValueError, match="overlap"):
            K.activation_backward(np.ones(3), "relu", y=y, out=y)

    def test_bias_grad_errors(self):
        with pytest.raises(ValueError, match="grad to be 2-D"):
            K.bias_grad(np.ones(3))
        with pytest.raises(ValueError, match=r"out to have shape \(2,\)"):
            K.bias_grad(np.ones((3, 2)), out=np.empty(3))
        with pytest.raises(TypeError, match="float32 or float64"):
            K.bias_grad(np.ones((3, 2), np.int32))

    def test_unknown_activation_in_forward(self):
        with pytest.raises(ValueError, match="received: activation='nope'"):
            K.activation_forward(np.ones(2), "nope")
