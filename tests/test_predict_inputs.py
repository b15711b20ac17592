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


def _warm(dtype):
    """A model whose next predict takes the serving fast path (its plan exists)."""
    m = _model(dtype)
    m.predict(np.zeros((1, 5), dtype))
    assert m._predict_plan() is not None
    return m


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows, where", [(1, (0, 0)), (1, (0, 4)), (9, (8, 4)), (1500, (1400, 2))])
def test_fast_path_rejects_non_finite_input_and_leaves_no_partial_result(dtype, rows, where):
    """The fast path checks X inside the plan's C call (Forward(check_finite=True)): every
    position is seen, across the 1024-row chunks too, and the model stays usable after."""
    m = _warm(dtype)
    X = np.random.default_rng(1).standard_normal((rows, 5)).astype(dtype)
    expected = m.predict(X)
    X[where] = np.nan
    with pytest.raises(ValueError, match="Expected X to be finite"):
        m.predict(X)
    X[where] = -np.inf
    with pytest.raises(ValueError, match="Expected X to be finite"):
        m.predict(X)
    X[where] = 0.0
    Y = m.predict(X)
    ref = X @ m.layers[0].get_weights()[0] + m.layers[0].get_weights()[1]
    ref = np.maximum(ref, 0) @ m.layers[1].get_weights()[0] + m.layers[1].get_weights()[1]
    np.testing.assert_allclose(Y, ref, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
    keep = np.ones(rows, bool)
    keep[where[0]] = False
    np.testing.assert_array_equal(Y[keep], expected[keep])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 3, 1024, 1029])
def test_fast_path_gives_the_general_paths_bits(dtype, rows):
    """batch_size= or verbose= send predict through the general checks; the result is the
    same to the bit."""
    m = _warm(dtype)
    X = np.random.default_rng(2).standard_normal((rows, 5)).astype(dtype)
    fast = m.predict(X)
    np.testing.assert_array_equal(m.predict(X, batch_size=1024), fast)
    np.testing.assert_array_equal(m.predict(X, verbose=2), fast)
    assert fast.dtype == np.dtype(dtype) and fast.shape == (rows, 3)


def test_fast_path_keeps_the_argument_checks():
    m = _warm("float32")
    with pytest.raises(ValueError, match="verbose"):
        m.predict(np.zeros((1, 5), np.float32), verbose=3)
    with pytest.raises(ValueError, match="features"):
        m.predict(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="at least one sample"):
        m.predict(np.zeros((0, 5), np.float32))


def test_plan_forward_check_finite_computes_nothing_on_bad_input():
    m = _warm("float32")
    out = np.full((2, 3), 7.0, np.float32)
    X = np.ones((2, 5), np.float32)
    X[1, 1] = np.inf
    assert m._predict_plan().predict(X, out, check_finite=True) is None
    np.testing.assert_array_equal(out, 7.0)
    assert m._predict_plan().predict(X, out) is out  # unchecked: the caller vouched for X


def test_dataframes_and_series_are_taken_through_to_numpy():
    """pandas objects convert through to_numpy (np.asarray of a frame is ~25x slower): the
    same predictions and the same training as the arrays, the same errors for bad columns."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 5)), rng.standard_normal((40, 3))
    frame, targets = pd.DataFrame(X, columns=list("abcde")), pd.DataFrame(y)
    m = _model()
    np.testing.assert_array_equal(m.predict(frame), m.predict(X))
    np.testing.assert_array_equal(m.predict(frame.iloc[3:4]), m.predict(X[3:4]))
    a, b = _model(), _model()
    a.fit(X, y, epochs=2, batch_size=8, verbose=0)
    b.fit(frame, targets, epochs=2, batch_size=8, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    labels = (X[:, 0] > 0).astype(int)
    c, d = (nf.Sequential([nf.layers.Dense(2, activation="softmax")], input_dim=5, seed=0)
            for _ in range(2))
    for model in (c, d):
        model.compile("adam", "sparse_categorical_crossentropy")
    assert c.train_on_batch(frame, pd.Series(labels)) == d.train_on_batch(X, labels)
    np.testing.assert_array_equal(c.get_weights()[0], d.get_weights()[0])
    with pytest.raises(TypeError, match="hold numbers"):
        m.predict(frame.assign(a="text"))
    with pytest.raises(ValueError, match="finite"):
        m.predict(frame.assign(b=np.nan))


def test_as_array_matches_np_asarray():
    from nnfast._ops._validate import as_array

    pd = pytest.importorskip("pandas")
    frames = [pd.DataFrame({"a": [1.0, 2.5], "b": [3, 4]}), pd.Series([True, False]),
              pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}), pd.Series(["x", "y"])]
    for f in frames:
        a, b = as_array(f), np.asarray(f)
        assert type(a) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
        assert all(x is y or x == y or (x != x and y != y) for x, y in zip(a.ravel(), b.ravel()))

    class Broken:  # a to_numpy that fails: np.asarray decides
        def to_numpy(self):
            raise RuntimeError("no")

        def __array__(self, dtype=None, copy=None):
            return np.ones(2)

    np.testing.assert_array_equal(as_array(Broken()), np.ones(2))
    x = np.ones(3)
    assert as_array(x) is x
