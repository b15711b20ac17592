"""Regularizers: penalty values, gradients by central differences, in-place update, config."""

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from helpers import central_difference

import nnfast.regularizers as reg

CASES = [reg.l1(0.3), reg.l2(0.7), reg.l1_l2(l1=0.2, l2=0.05), reg.l1_l2(), reg.L1L2(l2=1e-4)]


def test_hand_worked_penalties():
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert reg.l2(0.1).penalty(w) == pytest.approx(0.1 * (1 + 4 + 0.25))
    assert reg.l1(0.1).penalty(w) == pytest.approx(0.1 * 3.5)
    assert reg.l1_l2(l1=0.1, l2=0.2).penalty(w) == pytest.approx(0.35 + 0.2 * 5.25)
    assert reg.l1_l2().penalty(w) == 0.0
    assert reg.l2(0.1)(w) == reg.l2(0.1).penalty(w)  # callable, as Keras
    assert isinstance(reg.l2(0.1).penalty(w.astype(np.float32)), float)


def test_hand_worked_gradients():
    w = np.array([1.0, -2.0, 0.0])
    g = np.array([10.0, 10.0, 10.0])
    out = reg.l2(0.5).add_gradient(w, g)
    assert out is g
    np.testing.assert_array_equal(g, [11.0, 8.0, 10.0])  # += 2 * 0.5 * w
    g = np.zeros(3)
    reg.l1(0.25).add_gradient(w, g)
    np.testing.assert_array_equal(g, [0.25, -0.25, 0.0])  # sign, 0 at 0


@pytest.mark.parametrize("r", CASES, ids=repr)
def test_gradient_matches_central_differences(r):
    rng = np.random.default_rng(0)
    w = rng.uniform(-2, 2, size=(6, 5))
    w[np.abs(w) < 1e-3] = 0.5  # keep away from the kink of |w|
    num = central_difference(r.penalty, w, eps=1e-6)
    g = np.zeros_like(w)
    r.add_gradient(w, g)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("r", CASES, ids=repr)
def test_dtype_is_kept_and_scratch_is_used(r, dtype):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 3)).astype(dtype)
    g0 = rng.standard_normal((8, 3)).astype(dtype)
    expected = g0.astype(np.float64) + r.l1 * np.sign(w) + 2 * r.l2 * w.astype(np.float64)
    g = g0.copy()
    r.add_gradient(w, g)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)
    scratch = np.empty_like(w)
    g2 = g0.copy()
    r.add_gradient(w, g2, scratch=scratch)
    np.testing.assert_array_equal(g2, g)
    assert r.penalty(w) == pytest.approx(r.l1 * np.abs(w.astype(np.float64)).sum()
                                         + r.l2 * (w.astype(np.float64) ** 2).sum(), rel=1e-5)


def test_works_on_views_of_a_flat_buffer():
    buf = np.arange(12, dtype=np.float32) - 6
    gbuf = np.zeros(12, np.float32)
    w, g = buf[2:8].reshape(2, 3), gbuf[2:8].reshape(2, 3)
    reg.l2(1.0).add_gradient(w, g)
    np.testing.assert_array_equal(gbuf[2:8], 2 * buf[2:8])
    assert not gbuf[:2].any() and not gbuf[8:].any()  # nothing outside the view is touched


@given(w=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=6),
                    elements=st.floats(-1e3, 1e3)),
       a=st.floats(0, 10), b=st.floats(0, 10))
def test_penalty_is_non_negative_and_linear_in_strength(w, a, b):
    r = reg.l1_l2(l1=a, l2=b)
    p = r.penalty(w)
    assert p >= 0
    assert p == pytest.approx(reg.l1(a).penalty(w) + reg.l2(b).penalty(w), rel=1e-12, abs=1e-12)


def test_get_and_serialize():
    assert reg.get(None) is None
    r = reg.l2(3e-4)
    assert reg.get(r) is r
    assert reg.get("l2").get_config() == {"l2": 0.01}
    assert reg.get("l1").get_config() == {"l1": 0.01}
    assert reg.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    for r in CASES + [reg.Regularizer()]:
        cfg = json.loads(json.dumps(reg.serialize(r)))
        back = reg.get(cfg)
        assert type(back) is type(r) and back.get_config() == r.get_config()
        assert reg.deserialize(cfg).get_config() == r.get_config()
    assert reg.serialize(None) is None and reg.deserialize(None) is None
    with pytest.raises(ValueError, match="Expected a regularizer name") as info:
        reg.get("l3")
    assert "l1_l2" in str(info.value) and "l3" in str(info.value)
    with pytest.raises(TypeError, match="Expected None, a Regularizer"):
        reg.get(0.1)
    with pytest.raises(ValueError, match="class_name"):
        reg.deserialize({"class_name": "Dropout", "config": {}})


@pytest.mark.parametrize("make, exc, name", [
    (lambda: reg.l2(-1e-4), ValueError, "l2"),
    (lambda: reg.l1(-0.5), ValueError, "l1"),
    (lambda: reg.l1_l2(l1=0.1, l2=-0.1), ValueError, "l2"),
    (lambda: reg.l2(float("nan")), ValueError, "l2"),
    (lambda: reg.l2(float("inf")), ValueError, "l2"),
    (lambda: reg.l2("0.1"), TypeError, "l2"),
    (lambda: reg.l1(True), TypeError, "l1"),
])
def test_bad_strengths_name_the_argument(make, exc, name):
    with pytest.raises(exc, match=rf"Expected {name}\b.*received: {name}="):
        make()


def test_add_gradient_checks_shapes():
    with pytest.raises(ValueError, match=r"Expected w and grad to have the same shape.*w.shape=\(3,\)"):
        reg.l2(0.1).add_gradient(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="Expected w and grad to be numpy arrays"):
        reg.l2(0.1).add_gradient([1.0], np.zeros(1))


def test_evaluate_adds_the_trainable_layers_penalties():
    """evaluate's loss = the mean data loss + each trainable layer's regularizer penalties
    (float64 NumPy reference); a frozen layer's regularizers add nothing, as in training."""
    import nnfast as nf

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(37, 5)), rng.integers(0, 3, 37)
    layers = [nf.layers.Dense(7, activation="relu", kernel_regularizer=reg.l1_l2(l1=0.01, l2=0.02),
                              bias_regularizer=reg.l2(0.3)),
              nf.layers.Dense(6, activation="tanh", kernel_regularizer=reg.l1(0.05)),
              nf.layers.Dense(3, activation="softmax", kernel_regularizer=reg.l2(0.1))]
    model = nf.Sequential(layers, input_dim=5, seed=0, dtype="float64")
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    layers[1].trainable = False
    p = model.predict(X)
    data_loss = -np.mean(np.log(p[np.arange(37), y]))
    w = [np.asarray(a, np.float64) for a in model.get_weights()]  # k0, b0, k1, b1, k2, b2
    penalty = (0.01 * np.abs(w[0]).sum() + 0.02 * (w[0] ** 2).sum() + 0.3 * (w[1] ** 2).sum()
               + 0.1 * (w[4] ** 2).sum())
    assert model.evaluate(X, y)["loss"] == pytest.approx(data_loss + penalty, rel=1e-12)
