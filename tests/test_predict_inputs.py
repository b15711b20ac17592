"""model.predict's input checks: the fast path for C-contiguous float32 input and the full one
agree, and neither lets a NaN or inf through."""

import warnings

import numpy as np
import pytest

import nnfast as nf


def _model(dtype="float32"):
    m = nf.Sequential([nf.layers.Dense(6, activation="relu"), nf.layers.Dense(3)], input_dim=5,
                      dtype=dtype, seed=0)
    m.compile(optimizer="adam", loss="mse")
    m.build()
    return m


def test_every_layout_and_dtype_gives_the_same_predictions():
    m = _model()
    X = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    expected = m.predict(X)
    for variant in (np.asfortranarray(X), X.astype(np.float64), X.tolist(),
                    np.repeat(X, 2, axis=1)[:, ::2]):
        np.testing.assert_array_equal(m.predict(variant), expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(dtype, bad):
    m = _model(dtype)
    X = np.ones((4, 5), dtype)
    X[2, 3] = bad
    with pytest.raises(ValueError, match="finite"):
        m.predict(X)


def test_huge_finite_values_pass_without_warnings():
    m = _model()
    X = np.full((3, 5), 3e38, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = m.predict(X)
    assert out.shape == (3, 3)


def test_input_check_runs_on_one_thread(monkeypatch):
    """predict's finite check must not wake an OpenMP team right before BLAS's threads run
    (model._inputs): every call asks for one thread, and NaN is still caught."""
    import nnfast.model

    seen = []
    real = nnfast.model._all_finite

    def spy(x, threads=None):
        seen.append(threads)
        return real(x, threads=threads)

    monkeypatch.setattr(nnfast.model, "_all_finite", spy)
    m = _model()
    X = np.ones((1024, m.input_dim), np.float32)
    m.predict(X)
    m.predict(X.astype(np.float64))  # the converting path
    assert seen and all(t == 1 for t in seen)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        m.predict(X)
