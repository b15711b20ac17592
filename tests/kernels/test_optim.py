"""Optimizer updates, norms and clipping against their float64 NumPy twins and torch.optim."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast as nf
from nnfast import reference as ref
from helpers import DTYPES, assert_close, layouts, random_array, threads, torch_or_skip

K = nf.kernels

# (rows, cols): empty, one element, odd, and large enough for a two-thread team.
SHAPES = [(0, 3), (1, 1), (3, 5), (31, 33), (317, 331)]

SGD_CONFIGS = [
    dict(learning_rate=0.1),
    dict(learning_rate=0.05, weight_decay=0.01),
    dict(learning_rate=0.05, momentum=0.9),
    dict(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.001),
]
RMSPROP_CONFIGS = [
    dict(learning_rate=0.01),
    dict(learning_rate=0.01, rho=0.99, epsilon=1e-6, weight_decay=0.01),
    dict(learning_rate=0.01, momentum=0.9),
]
ADAM_CONFIGS = [
    dict(learning_rate=0.01),
    dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, weight_decay=0.05),
    dict(learning_rate=0.01, weight_decay=0.05, decoupled=True),
    dict(learning_rate=0.01, beta_1=0.0),  # torch's lerp from the gradient side
]


def _state(shape, dtype, rng, n_state):
    """param, a list of grads (one per step) and ``n_state`` state arrays."""
    p = random_array(shape, dtype, rng)
    grads = [random_array(shape, dtype, rng) for _ in range(4)]
    return p, grads, [np.zeros(shape, dtype) for _ in range(n_state)]


def _run(update, p, grads, states, *, with_buffer, **kw):
    """Apply 4 steps of ``update`` (kernel or reference) in place."""
    for step, g in enumerate(grads, start=1):
        if update in (K.adam_update, ref.adam_update):
            update(p, g, *states, step=step, **kw)
        elif with_buffer:
            update(p, g, *states, **kw)
        else:
            update(p, g, *states[:-1], **kw) if states[:-1] else update(p, g, **kw)


def _check_against_reference(ours, twin, n_state, needs_buffer, cfg, dtype, shape, layout):
    rng = np.random.default_rng(hash((shape, layout)) % 2**32)
    p, grads, states = _state(shape, dtype, rng, n_state)
    rp, rstates = p.copy(), [s.copy() for s in states]
    with_buffer = needs_buffer(cfg)
    laid = [dict(layouts(g))[layout] for g in grads]
    _run(ours, p, laid, states, with_buffer=with_buffer, **cfg)
    _run(twin, rp, grads, rstates, with_buffer=with_buffer, **cfg)
    assert p.dtype == dtype
    assert_close(p, rp, scale=10, err_msg="param")
    for i, (s, rs) in enumerate(zip(states, rstates)):
        if with_buffer or i < n_state - 1:
            assert_close(s, rs, scale=10, err_msg=f"state {i}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cfg", SGD_CONFIGS)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_sgd_matches_reference(dtype, shape, cfg, layout):
    _check_against_reference(K.sgd_update, ref.sgd_update, 1,
                             lambda c: c.get("momentum", 0) > 0, cfg, dtype, shape, layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cfg", RMSPROP_CONFIGS)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_rmsprop_matches_reference(dtype, shape, cfg, layout):
    _check_against_reference(K.rmsprop_update, ref.rmsprop_update, 2,
                             lambda c: c.get("momentum", 0) > 0, cfg, dtype, shape, layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cfg", ADAM_CONFIGS)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_adam_matches_reference(dtype, shape, cfg, layout):
    _check_against_reference(K.adam_update, ref.adam_update, 2, lambda c: True,
                             cfg, dtype, shape, layout)


@given(
    n=st.integers(0, 300),
    dtype=st.sampled_from(DTYPES),
    step=st.integers(1, 10_000),
    lr=st.floats(0, 1),
    b1=st.floats(0, 0.999),
    b2=st.floats(0, 0.9999),
    wd=st.floats(0, 0.1),
    decoupled=st.booleans(),
)
def test_adam_hypothesis(n, dtype, step, lr, b1, b2, wd, decoupled):
    rng = np.random.default_rng(n + step)
    p = random_array(n, dtype, rng)
    g = random_array(n, dtype, rng)
    m = random_array(n, dtype, rng, -1, 1)
    v = random_array(n, dtype, rng, 0, 2)
    rp, rm, rv = p.copy(), m.copy(), v.copy()
    kw = dict(step=step, learning_rate=lr, beta_1=b1, beta_2=b2, weight_decay=wd,
              decoupled=decoupled)
    K.adam_update(p, g, m, v, **kw)
    ref.adam_update(rp, g, rm, rv, **kw)
    assert_close(m, rm, scale=4)
    assert_close(v, rv, scale=4)
    assert_close(p, rp, scale=4 + 4 * lr / (1 - b1**step))


def test_grad_may_be_the_parameter_itself():
    rng = np.random.default_rng(3)
    p = rng.standard_normal(1000)
    m, v = np.zeros(1000), np.zeros(1000)
    rp, rm, rv = p.copy(), m.copy(), v.copy()
    K.adam_update(p, p, m, v, step=1, learning_rate=0.1)
    ref.adam_update(rp, rp.copy(), rm, rv, step=1, learning_rate=0.1)
    assert_close(p, rp)
    assert_close(m, rm)


def test_grad_partly_overlapping_the_parameter_is_read_before_any_write():
    buf = np.arange(12.0)
    param, grad = buf[:8], buf[4:]
    expected_p, g0 = param.copy(), grad.copy()
    ref.sgd_update(expected_p, g0, learning_rate=0.5)
    K.sgd_update(param, grad, learning_rate=0.5)
    np.testing.assert_array_equal(param, expected_p)


def test_zero_dimensional_arrays_are_updated():
    p, b = np.array(1.0), np.array(0.0)
    K.sgd_update(p, np.array(2.0), b, learning_rate=0.5, momentum=0.5)
    assert float(p) == 0.0 and float(b) == 2.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_decaying_below_the_normal_range_is_stored_as_zero(dtype):
    """A zero gradient lets a state decay geometrically; once below the smallest normal number
    it is stored as 0 (kernel and reference alike), never as a slow subnormal."""
    tiny = np.finfo(dtype).tiny
    n = 37
    state = np.full(n, 3 * tiny, dtype)
    state[::2] = 1.0  # normal values decay as usual
    zero = np.zeros(n, dtype)
    cases = [
        ("sgd", lambda m, p, b: m.sgd_update(p, zero, b, learning_rate=0.1, momentum=0.1)),
        ("rmsprop", lambda m, p, b: m.rmsprop_update(p, zero, b, b.copy(), learning_rate=0.1,
                                                     rho=0.1, momentum=0.1)),
        ("adam", lambda m, p, b: m.adam_update(p, zero, b, b.copy(), step=3, learning_rate=0.1,
                                               beta_1=0.1, beta_2=0.1)),
    ]
    for name, update in cases:
        ours, theirs = state.copy(), state.copy()
        p1, p2 = np.ones(n, dtype), np.ones(n, dtype)
        update(K, p1, ours)
        update(ref, p2, theirs)
        assert np.all(ours[1::2] == 0), name
        assert np.all(ours[::2] > 0.05), name
        np.testing.assert_array_equal(ours == 0, theirs == 0, err_msg=name)
        assert_close(p1, p2, err_msg=name)


# (name, update(module, p, g, s1, s2)): module is nnfast.kernels or its float64 reference
_UPDATES = [
    ("sgd", lambda mod, p, g, s1, s2: mod.sgd_update(p, g, learning_rate=0.1)),
    ("sgd momentum", lambda mod, p, g, s1, s2: mod.sgd_update(p, g, s1, learning_rate=0.1,
                                                              momentum=0.9, nesterov=True)),
    ("rmsprop", lambda mod, p, g, s1, s2: mod.rmsprop_update(p, g, s2, learning_rate=0.1)),
    ("rmsprop momentum", lambda mod, p, g, s1, s2: mod.rmsprop_update(p, g, s2, s1,
                                                                      learning_rate=0.1,
                                                                      momentum=0.9)),
    ("adam", lambda mod, p, g, s1, s2: mod.adam_update(p, g, s1, s2, step=7,
                                                       learning_rate=1e-3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_update_terms_in_the_subnormal_range_match_the_reference(dtype, n_threads):
    """States just above the smallest normal number make lr·m/(√v + ε) subnormal; the kernels
    flush such terms (and subnormal inputs) to zero inside the update, which must not move any
    result off the float64 reference."""
    tiny = np.finfo(dtype).tiny
    rng = np.random.default_rng(11)
    n = 70_001
    for name, update in _UPDATES:
        p = random_array(n, dtype, rng)
        g = np.zeros(n, dtype)
        g[::3] = random_array(g[::3].shape, dtype, rng) * dtype(1e-20)  # g·g underflows
        g[1::7] = tiny / 4  # subnormal gradients
        s1 = np.where(rng.random(n) < 0.5, 30 * tiny, 1e-3).astype(dtype)
        s2 = np.where(rng.random(n) < 0.5, 30 * tiny, 1e-6).astype(dtype)
        rp, rs1, rs2 = p.copy(), s1.copy(), s2.copy()
        with threads(n_threads):
            update(K, p, g, s1, s2)
        update(ref, rp, g, rs1, rs2)
        assert_close(p, rp, err_msg=name)
        assert_close(s1, rs1, err_msg=name)
        assert_close(s2, rs2, err_msg=name)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_updates_leave_the_floating_point_mode_as_they_found_it(n_threads):
    """Flushing subnormals is scoped to the update: afterwards NumPy on this thread and nnfast's
    other kernels on the team's threads still produce subnormal numbers."""
    tiny = np.float32(np.finfo(np.float32).tiny)
    n = 600_000  # large enough for a two-thread team under the tests' threshold
    rng = np.random.default_rng(12)
    for name, update in _UPDATES:
        p, g = random_array(n, np.float32, rng), random_array(n, np.float32, rng)
        s1, s2 = np.zeros(n, np.float32), np.zeros(n, np.float32)
        with threads(n_threads):
            update(K, p, g, s1, s2)
            assert tiny * np.float32(0.25) > 0, name  # this thread
            y = np.zeros(n, np.float32)
            K.scale_add(y, np.full(n, tiny, np.float32), 0.25)  # the team's threads
        assert np.all(y == tiny * np.float32(0.25)), name


# ---- against torch.optim itself (float64, 5 steps) ----

def _torch_steps(torch, make_opt, p0, grads):
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = make_opt([tp])
    for g in grads:
        tp.grad = torch.from_numpy(g.copy())
        opt.step()
    return tp.detach().numpy(), opt.state[tp]


def _torch_case(n=257, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), [rng.standard_normal(n) for _ in range(5)]


def _equal(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.9, False, 0.0),
                                                  (0.9, True, 0.0), (0.5, True, 0.01),
                                                  (0.0, False, 0.01)])
def test_sgd_matches_torch(momentum, nesterov, wd):
    torch = torch_or_skip()
    p0, grads = _torch_case()
    tp, tstate = _torch_steps(torch, lambda ps: torch.optim.SGD(
        ps, lr=0.05, momentum=momentum, nesterov=nesterov, weight_decay=wd, foreach=False),
        p0, grads)
    p, b = p0.copy(), np.zeros_like(p0)
    for g in grads:
        K.sgd_update(p, g, b, learning_rate=0.05, momentum=momentum, nesterov=nesterov,
                     weight_decay=wd)
    _equal(p, tp)
    if momentum:
        _equal(b, tstate["momentum_buffer"].numpy())


@pytest.mark.torch
@pytest.mark.parametrize("momentum,wd", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_rmsprop_matches_torch(momentum, wd):
    torch = torch_or_skip()
    p0, grads = _torch_case(seed=1)
    tp, tstate = _torch_steps(torch, lambda ps: torch.optim.RMSprop(
        ps, lr=0.01, alpha=0.9, eps=1e-8, momentum=momentum, weight_decay=wd, foreach=False),
        p0, grads)
    p, s, b = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for g in grads:
        K.rmsprop_update(p, g, s, b, learning_rate=0.01, rho=0.9, epsilon=1e-8,
                         momentum=momentum, weight_decay=wd)
    _equal(p, tp)
    _equal(s, tstate["square_avg"].numpy())
    if momentum:
        _equal(b, tstate["momentum_buffer"].numpy())


@pytest.mark.torch
@pytest.mark.parametrize("decoupled,wd,betas", [(False, 0.0, (0.9, 0.999)),
                                                (False, 0.05, (0.8, 0.99)),
                                                (True, 0.01, (0.9, 0.999)),
                                                (True, 0.1, (0.3, 0.9))])
def test_adam_and_adamw_match_torch(decoupled, wd, betas):
    torch = torch_or_skip()
    p0, grads = _torch_case(seed=2)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    tp, tstate = _torch_steps(torch, lambda ps: cls(
        ps, lr=0.01, betas=betas, eps=1e-8, weight_decay=wd, foreach=False), p0, grads)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for step, g in enumerate(grads, start=1):
        K.adam_update(p, g, m, v, step=step, learning_rate=0.01, beta_1=betas[0],
                      beta_2=betas[1], epsilon=1e-8, weight_decay=wd, decoupled=decoupled)
    _equal(p, tp)
    _equal(m, tstate["exp_avg"].numpy())
    _equal(v, tstate["exp_avg_sq"].numpy())


@pytest.mark.torch
@pytest.mark.parametrize("decoupled", [False, True])
def test_float32_adam_matches_torch_fused_to_rounding(decoupled):
    torch = torch_or_skip()
    rng = np.random.default_rng(8)
    p0 = rng.standard_normal(10_007).astype(np.float32)
    grads = [rng.standard_normal(10_007).astype(np.float32) for _ in range(5)]
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    tp, tstate = _torch_steps(torch, lambda ps: cls(ps, lr=0.01, weight_decay=0.01, fused=True),
                              p0, grads)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for step, g in enumerate(grads, start=1):
        K.adam_update(p, g, m, v, step=step, learning_rate=0.01, weight_decay=0.01,
                      decoupled=decoupled)
    np.testing.assert_allclose(p, tp, rtol=4e-7, atol=1e-7)  # a few float32 ulps
    np.testing.assert_allclose(v, tstate["exp_avg_sq"].numpy(), rtol=4e-7, atol=0)


@pytest.mark.torch
def test_clip_by_global_norm_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in [(7, 3), (3,), (100,)]]
    tensors = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.from_numpy(a.copy())
    tnorm = torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.5)
    norm = K.clip_by_global_norm(arrays, 1.5)
    assert norm == pytest.approx(float(tnorm), rel=1e-13)
    for t, a in zip(tensors, arrays):
        _equal(a, t.grad.numpy())


# ---- thread-count invariance ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_are_bit_identical_on_one_and_two_threads(dtype):
    rng = np.random.default_rng(5)
    n = 200_003
    p0, g = random_array(n, dtype, rng), random_array(n, dtype, rng)
    calls = {
        "sgd": lambda p, s: K.sgd_update(p, g, s[0], learning_rate=0.1, momentum=0.9, nesterov=True),
        "rmsprop": lambda p, s: K.rmsprop_update(p, g, s[0], s[1], learning_rate=0.01, momentum=0.5),
        "adam": lambda p, s: K.adam_update(p, g, s[0], s[1], step=3, learning_rate=0.01, weight_decay=0.1),
        "scale_add": lambda p, s: K.scale_add(p, g, -0.3),
        "clip_by_value": lambda p, s: K.clip_by_value(p, 1.0),
    }
    for name, call in calls.items():
        results = []
        for nt in (1, 2):
            p, s = p0.copy(), [np.full(n, 0.5, dtype), np.full(n, 0.25, dtype)]
            with threads(nt):
                call(p, s)
                call(p, s)
            results.append((p, s))
        np.testing.assert_array_equal(results[0][0], results[1][0], err_msg=name)
        np.testing.assert_array_equal(results[0][1][0], results[1][1][0], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 17, 4099, 1_000_003])
def test_global_norm_is_deterministic_across_thread_counts(dtype, n):
    x = random_array(n, dtype, np.random.default_rng(n))
    with threads(1):
        a = K.global_norm(x)
    with threads(2):
        b = K.global_norm(x)
    assert a == b
    assert a == pytest.approx(np.linalg.norm(x.astype(np.float64)), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_norm_of_many_arrays_is_deterministic(dtype):
    rng = np.random.default_rng(9)
    sizes = [0, 1, 4095, 4097, 300_001, 0, 17] + [5000] * 40  # many small ones: one team
    arrays = [random_array(n, dtype, rng) for n in sizes]
    with threads(1):
        a = K.global_norm(arrays)
    with threads(2):
        b = K.global_norm(arrays)
    assert a == b
    one_by_one = sum(K.global_norm(x) ** 2 for x in arrays) ** 0.5
    assert a == pytest.approx(one_by_one, rel=1e-14)
    assert a == pytest.approx(ref.global_norm(arrays), rel=1e-12)


# ---- norms and clipping ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_global_norm_of_several_arrays_in_every_layout(dtype):
    rng = np.random.default_rng(6)
    arrays = [random_array(s, dtype, rng) for s in [(5, 7), (0, 2), (1, 1), (40, 9)]]
    expected = ref.global_norm(arrays)
    for layout in ["C", "F", "strided"]:
        laid = [dict(layouts(a))[layout] for a in arrays]
        assert K.global_norm(laid) == pytest.approx(expected, rel=1e-13)
    assert K.global_norm(arrays[0]) == pytest.approx(ref.global_norm(arrays[0]), rel=1e-13)
    assert K.global_norm(tuple(arrays)) == pytest.approx(expected, rel=1e-13)
    assert K.global_norm([]) == 0.0
    assert isinstance(K.global_norm(arrays), float)


def test_global_norm_does_not_overflow_float32():
    x = np.full(4, 3e38, np.float32)
    assert K.global_norm(x) == pytest.approx(6e38, rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 9, 100_001])
def test_clip_by_value_matches_reference(dtype, n):
    rng = np.random.default_rng(n)
    g = random_array(n, dtype, rng)
    if n:
        g[0] = np.nan
    r = g.copy()
    assert K.clip_by_value(g, 1.25) is None
    ref.clip_by_value(r, 1.25)
    np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 13, 100_001])
def test_clip_by_norm_scales_only_above_the_limit(dtype, n):
    rng = np.random.default_rng(n)
    g = random_array(n, dtype, rng)
    r = g.copy()
    norm = K.clip_by_norm(g, 0.5)
    rnorm = ref.clip_by_norm(r, 0.5)
    assert norm == pytest.approx(rnorm, rel=1e-12, abs=0)
    assert_close(g, r)
    if n:
        assert K.global_norm(g) == pytest.approx(min(rnorm, 0.5), rel=1e-5)
    before = g.copy()
    assert K.clip_by_norm(g, 10.0) == pytest.approx(K.global_norm(before), rel=1e-12)
    np.testing.assert_array_equal(g, before)  # untouched below the limit


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_global_norm_matches_reference(dtype):
    rng = np.random.default_rng(7)
    arrays = [random_array(s, dtype, rng) for s in [(3, 4), (0,), (50_000,)]]
    twins = [a.copy() for a in arrays]
    norm = K.clip_by_global_norm(arrays, 2.0)
    assert norm == pytest.approx(ref.clip_by_global_norm(twins, 2.0), rel=1e-12)
    for a, t in zip(arrays, twins):
        assert_close(a, t)
    assert K.global_norm(arrays) == pytest.approx(2.0, rel=1e-5)
    kept = [a.copy() for a in arrays]
    K.clip_by_global_norm(arrays, 1e9)
    for a, k in zip(arrays, kept):
        np.testing.assert_array_equal(a, k)
    single = random_array(10, dtype, rng)
    assert K.clip_by_global_norm(single, 0.0) > 0 and not single.any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_norms_poison_the_gradients(dtype):
    g = np.array([1.0, np.nan, 2.0], dtype)
    assert np.isnan(K.clip_by_norm(g, 1.0)) and np.isnan(g).all()
    arrays = [np.array([1.0, 2.0], dtype), np.array([np.nan], dtype)]
    assert np.isnan(K.clip_by_global_norm(arrays, 1.0))
    assert all(np.isnan(a).all() for a in arrays)
    g = np.array([np.inf, 3.0], dtype)
    assert K.clip_by_norm(g, 1.0) == np.inf
    assert np.isnan(g[0]) and g[1] == 0.0


@pytest.mark.torch
def test_clip_by_global_norm_with_nan_matches_torch():
    torch = torch_or_skip()
    arrays = [np.array([1.0, np.nan]), np.array([3.0])]
    tensors = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.from_numpy(a.copy())
    torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.0)
    K.clip_by_global_norm(arrays, 1.0)
    for t, a in zip(tensors, arrays):
        np.testing.assert_array_equal(a, t.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_scale_add_matches_reference_in_every_layout(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    y0, x0 = random_array(shape, dtype, rng), random_array(shape, dtype, rng)
    expected = y0.copy()
    ref.scale_add(expected, x0, 2e-4)
    for name, x in layouts(x0):
        y = y0.copy()
        assert K.scale_add(y, x, 2e-4) is None
        assert_close(y, expected, err_msg=name)


def test_scale_add_with_itself():
    y = np.arange(5.0)
    K.scale_add(y, y, 2.0)
    np.testing.assert_array_equal(y, 3 * np.arange(5.0))


# ---- bad input ----

def _adam_args(n=4, dtype=np.float64):
    return [np.zeros(n, dtype) for _ in range(4)]


def _adam(p, g, m, v, **kw):
    kw = {"step": 1, "learning_rate": 0.1, **kw}
    K.adam_update(p, g, m, v, **kw)


class TestOptimErrors:
    def test_mixed_dtypes_raise_type_error(self):
        p, g, m, v = _adam_args()
        with pytest.raises(TypeError, match="one float dtype"):
            _adam(p, g.astype(np.float32), m, v)
        with pytest.raises(TypeError, match="one float dtype"):
            K.sgd_update(p, g, np.zeros(4, np.float32), learning_rate=0.1, momentum=0.9)

    def test_integer_arrays_raise_type_error(self):
        with pytest.raises(TypeError, match="float32 or float64"):
            K.sgd_update(np.zeros(3, np.int64), np.zeros(3, np.int64), learning_rate=0.1)
        with pytest.raises(TypeError, match="float32 or float64"):
            K.global_norm([np.zeros(3, np.int32)])

    def test_in_place_arrays_must_be_ndarrays(self):
        with pytest.raises(TypeError, match="param"):
            K.sgd_update([1.0, 2.0], np.zeros(2), learning_rate=0.1)
        with pytest.raises(TypeError, match="grad"):
            K.clip_by_value([1.0], 1.0)

    def test_grad_may_be_a_list(self):
        p = np.ones(2)
        K.sgd_update(p, [1.0, 2.0], learning_rate=0.5)
        np.testing.assert_array_equal(p, [0.5, 0.0])

    @pytest.mark.parametrize("which", ["grad", "m", "v"])
    def test_shape_mismatch_names_both(self, which):
        args = dict(zip(["p", "grad", "m", "v"], _adam_args()))
        args[which] = np.zeros(5)
        with pytest.raises(ValueError, match=rf"param.shape=\(4,\), {which}.shape=\(5,\)"):
            _adam(*args.values())

    @pytest.mark.parametrize("which", ["param", "m", "v"])
    def test_non_contiguous_state_is_rejected(self, which):
        args = dict(zip(["param", "grad", "m", "v"], _adam_args()))
        args[which] = np.zeros(8)[::2]
        with pytest.raises(ValueError, match=f"Expected {which} to be C-contiguous"):
            _adam(*args.values())

    def test_read_only_state_is_rejected(self):
        p, g, m, v = _adam_args()
        v.flags.writeable = False
        with pytest.raises(ValueError, match="Expected v to be writable"):
            _adam(p, g, m, v)

    def test_overlapping_state_is_rejected(self):
        p, g, m, _ = _adam_args()
        with pytest.raises(ValueError, match="m and v not to overlap"):
            _adam(p, g, m, m)
        big = np.zeros(6)
        with pytest.raises(ValueError, match="param and momentum_buffer not to overlap"):
            K.sgd_update(big[:4], g, big[2:], learning_rate=0.1, momentum=0.9)
        with pytest.raises(ValueError, match="overlap"):
            K.clip_by_global_norm([big, big[1:3]], 1.0)
        own = np.ones(3)
        with pytest.raises(ValueError, match=r"arrays\[0\] and arrays\[2\] not to overlap"):
            K.clip_by_global_norm([own, np.ones(2), own], 1.0)

    @pytest.mark.parametrize("name,value", [
        ("learning_rate", -0.1), ("learning_rate", float("nan")), ("learning_rate", float("inf")),
        ("beta_1", 1.0), ("beta_1", -0.1), ("beta_2", 1.0), ("beta_2", float("nan")),
        ("epsilon", -1e-8), ("weight_decay", -0.01),
    ])
    def test_adam_bad_hyperparameters(self, name, value):
        with pytest.raises(ValueError, match=name):
            _adam(*_adam_args(), **{name: value})

    @pytest.mark.parametrize("step,exc", [(0, ValueError), (-3, ValueError), (1.5, TypeError),
                                          (True, TypeError), (None, TypeError)])
    def test_adam_bad_step(self, step, exc):
        with pytest.raises(exc, match="step"):
            _adam(*_adam_args(), step=step)

    def test_adam_bad_decoupled(self):
        with pytest.raises(TypeError, match="decoupled"):
            _adam(*_adam_args(), decoupled="yes")

    @pytest.mark.parametrize("name,value", [("rho", 1.0), ("rho", -0.5), ("epsilon", -1.0),
                                            ("momentum", -0.9), ("weight_decay", -1.0),
                                            ("learning_rate", -1.0)])
    def test_rmsprop_bad_hyperparameters(self, name, value):
        kw = {"learning_rate": 0.1, name: value}
        with pytest.raises(ValueError, match=name):
            K.rmsprop_update(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), **kw)

    def test_momentum_needs_a_buffer(self):
        with pytest.raises(ValueError, match="momentum_buffer"):
            K.sgd_update(np.zeros(3), np.zeros(3), learning_rate=0.1, momentum=0.9)
        with pytest.raises(ValueError, match="momentum_buffer"):
            K.rmsprop_update(np.zeros(3), np.zeros(3), np.zeros(3), learning_rate=0.1,
                             momentum=0.9)

    def test_nesterov_needs_momentum(self):
        with pytest.raises(ValueError, match="nesterov"):
            K.sgd_update(np.zeros(3), np.zeros(3), np.zeros(3), learning_rate=0.1, nesterov=True)
        with pytest.raises(TypeError, match="nesterov"):
            K.sgd_update(np.zeros(3), np.zeros(3), np.zeros(3), learning_rate=0.1, momentum=0.9,
                         nesterov=1)

    @pytest.mark.parametrize("name,value", [("momentum", -0.5), ("weight_decay", -1.0),
                                            ("learning_rate", float("nan")),
                                            ("learning_rate", "0.1")])
    def test_sgd_bad_hyperparameters(self, name, value):
        kw = {"learning_rate": 0.1, name: value}
        with pytest.raises((ValueError, TypeError), match=name):
            K.sgd_update(np.zeros(3), np.zeros(3), np.zeros(3), **kw)

    def test_clipping_bad_limits(self):
        with pytest.raises(ValueError, match="clip_value"):
            K.clip_by_value(np.zeros(3), -1.0)
        with pytest.raises(ValueError, match="max_norm"):
            K.clip_by_norm(np.zeros(3), float("nan"))
        with pytest.raises(ValueError, match="max_norm"):
            K.clip_by_global_norm([np.zeros(3)], -2.0)
        with pytest.raises(ValueError, match="alpha"):
            K.scale_add(np.zeros(3), np.zeros(3), float("inf"))

    def test_clipping_needs_writable_contiguous_arrays(self):
        with pytest.raises(ValueError, match="C-contiguous"):
            K.clip_by_norm(np.zeros((3, 4)).T, 1.0)
        ro = np.zeros(3)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match=r"arrays\[1\] to be writable"):
            K.clip_by_global_norm([np.zeros(2), ro], 1.0)
        with pytest.raises(ValueError, match="Expected y to be C-contiguous"):
            K.scale_add(np.zeros(6)[::2], np.zeros(3), 1.0)

    def test_bad_array_containers(self):
        with pytest.raises(TypeError, match="arrays"):
            K.global_norm(3.0)
        with pytest.raises(TypeError, match="arrays"):
            K.clip_by_global_norm({"a": np.zeros(2)}, 1.0)
        with pytest.raises(TypeError, match="one float dtype"):
            K.global_norm([np.zeros(2, np.float32), np.zeros(2)])
