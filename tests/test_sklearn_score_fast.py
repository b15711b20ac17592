"""``score``'s direct paths: the estimators' mean accuracy and R^2 equal scikit-learn's
``accuracy_score`` and ``r2_score`` to the bit on the inputs they take (integer or boolean
labels; float targets, finite, two rows or more, no weights), and every other input still goes
to those functions, with their results, warnings and errors."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.metrics import accuracy_score, r2_score  # noqa: E402

from nnfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _spy(monkeypatch, module, name):
    import importlib

    mod = importlib.import_module(module)
    calls = []
    real = getattr(mod, name)
    monkeypatch.setattr(mod, name, lambda *a, **kw: (calls.append(1), real(*a, **kw))[1])
    return calls


@pytest.mark.parametrize("labels", ["binary", "multiclass", "bool", "int32 of int64", "uint8"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classifier_score_is_accuracy_score(labels, dtype, monkeypatch):
    rng = np.random.default_rng(len(labels))
    X = rng.standard_normal((97, 4))
    y = {"binary": lambda: rng.integers(0, 2, 97),
         "multiclass": lambda: rng.integers(-2, 3, 97),
         "bool": lambda: rng.random(97) > 0.4,
         "int32 of int64": lambda: rng.integers(0, 4, 97),
         "uint8": lambda: rng.integers(3, 6, 97).astype(np.uint8)}[labels]()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0, dtype=dtype)
    clf.fit(X, y)
    y_test = y.astype(np.int32) if labels == "int32 of int64" else y
    calls = _spy(monkeypatch, "sklearn.metrics", "accuracy_score")
    got = clf.score(X, y_test)
    assert calls == []  # the direct path
    assert type(got) is float and got == accuracy_score(y_test, clf.predict(X))
    assert clf.score(X[:1], y_test[:1]) == accuracy_score(y_test[:1], clf.predict(X[:1]))


def test_classifier_score_other_inputs_go_to_accuracy_score(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 3))
    y = rng.integers(0, 3, 60)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    w = rng.random(60)
    pred = clf.predict(X)
    cases = [(y.tolist(), None), (y, w), (y.astype(float), None), (y[:, None], None)]
    for target, weight in cases:
        calls = _spy(monkeypatch, "sklearn.metrics", "accuracy_score")
        expected = accuracy_score(np.asarray(target), pred, sample_weight=weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert clf.score(X, target, sample_weight=weight) == expected
        assert calls == [1]
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.score(X, y[:-1])
    strings = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    labels = np.where(y == 1, "a", "b")
    strings.fit(X, labels)
    assert strings.score(X, labels) == accuracy_score(labels, strings.predict(X))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().score(X, y)


@pytest.mark.parametrize("case", ["one output", "two outputs", "column", "float32 y",
                                  "float64 model", "constant y", "perfect constant"])
def test_regressor_score_is_r2_score(case, monkeypatch):
    rng = np.random.default_rng(len(case))
    X = rng.standard_normal((83, 4))
    y = X @ rng.standard_normal((4, 2)) if case == "two outputs" else X[:, 0] * 2 + 0.5
    dtype = "float64" if case == "float64 model" else "float32"
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0, dtype=dtype)
    reg.fit(X, y)
    y_test = {"column": y[:, None], "float32 y": y.astype(np.float32),
              "constant y": np.full(83, 1.5)}.get(case, y)
    pred = reg.predict(X)
    if case == "perfect constant":
        # a zero numerator: R^2 is 1.0 by r2_score's force_finite rule
        reg.predict = lambda X: np.full(len(X), 1.5, np.float32)
        y_test, pred = np.full(83, 1.5), np.full(83, 1.5, np.float32)
    calls = _spy(monkeypatch, "sklearn.metrics", "r2_score")
    got = reg.score(X, y_test)
    assert calls == []  # the direct path
    assert type(got) is float and got == r2_score(y_test, pred)


def test_regressor_score_other_inputs_go_to_r2_score(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 3))
    y = X[:, 1] - X[:, 2]
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X, y)
    pred = reg.predict(X)
    w = rng.random(50)
    for target, weight in [(y.tolist(), None), (y, w), ((y * 10).astype(int), None)]:
        calls = _spy(monkeypatch, "sklearn.metrics", "r2_score")
        expected = r2_score(np.asarray(target), pred, sample_weight=weight)
        assert reg.score(X, target, sample_weight=weight) == expected
        assert calls == [1]
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.score(X, bad)
    with pytest.warns(Warning, match="less than two samples"):
        assert np.isnan(reg.score(X[:1], y[:1]))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.score(X, y[:-1])
    two = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    two.fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="different number of output"):
        two.score(X, y)
