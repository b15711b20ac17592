"""A first ``fit``'s light checks: a plain float32/float64 ndarray X (finite, non-empty) with
integer, boolean or finite float targets skips scikit-learn's validate_data (its width recorded
as validate_data's reset records it), 1-D integer labels skip type_of_target, and an int
random_state seeds the network without making a RandomState. The network and every fitted
attribute are the validated path's; every other input still gets scikit-learn's checks."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from nnfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from nnfast.sklearn import _base  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TARGETS = {
    "binary": lambda rng, n: rng.integers(0, 2, n),
    "multiclass": lambda rng, n: rng.integers(-1, 3, n),
    "bool": lambda rng, n: rng.random(n) > 0.5,
    "uint8": lambda rng, n: rng.integers(5, 9, n).astype(np.uint8),
    "float labels": lambda rng, n: rng.integers(0, 3, n).astype(np.float64),
    "column labels": lambda rng, n: rng.integers(0, 3, (n, 1)),
    "multilabel": lambda rng, n: rng.integers(0, 2, (n, 3)),
    "regression": lambda rng, n: rng.standard_normal(n),
    "two outputs": lambda rng, n: rng.standard_normal((n, 2)),
    "int regression": lambda rng, n: rng.integers(0, 9, n),
}
REGRESSION = ("regression", "two outputs", "int regression")


@pytest.mark.parametrize("kind", list(TARGETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_first_fit_matches_the_validated_path(kind, dtype, count_validation):
    rng = np.random.default_rng(len(kind))
    X = rng.standard_normal((60, 4)).astype(dtype)
    y = TARGETS[kind](rng, len(X))
    Est = MLPRegressor if kind in REGRESSION else MLPClassifier
    kw = dict(hidden_layer_sizes=(7,), random_state=5, max_iter=4, batch_size=16)
    with warnings.catch_warnings(record=True) as seen_fast:
        warnings.simplefilter("always")
        fast = Est(**kw).fit(X, y)
    assert count_validation == []  # the plain arrays skipped validate_data
    with warnings.catch_warnings(record=True) as seen_checked:
        warnings.simplefilter("always")
        checked = Est(**kw).fit(X.tolist(), y.tolist())  # lists: validate_data converts them
    assert count_validation == [True]
    # the same warnings (a column of labels: DataConversionWarning; the iteration cap)
    assert ([(w.category, str(w.message)) for w in seen_fast]
            == [(w.category, str(w.message)) for w in seen_checked])
    assert fast.coefs_[0].dtype == np.dtype(dtype)  # the model dtype follows X's ("auto")
    if dtype == np.float64:  # the lists become float64 arrays: the same data, the same bits
        for a, b in zip(fast.coefs_ + fast.intercepts_, checked.coefs_ + checked.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert fast.loss_curve_ == checked.loss_curve_
    assert fast.n_features_in_ == checked.n_features_in_ == 4
    assert not hasattr(fast, "feature_names_in_")
    if Est is MLPClassifier:
        np.testing.assert_array_equal(fast.classes_, checked.classes_)
        assert fast.n_outputs_ == checked.n_outputs_ and fast.out_activation_ == checked.out_activation_
        if dtype == np.float64:
            np.testing.assert_array_equal(fast.predict(X), checked.predict(X))


def test_refit_on_an_array_forgets_the_feature_names(count_validation):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 2, 40)
    clf = MLPClassifier(hidden_layer_sizes=(4,), random_state=0, max_iter=2)
    clf.fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c"])
    assert count_validation == [True]
    clf.fit(X[:, :2], y)  # as validate_data's reset: the new width, no names
    assert count_validation == [True]
    assert clf.n_features_in_ == 2 and not hasattr(clf, "feature_names_in_")


@pytest.mark.parametrize("case", ["nan X", "inf X", "int X", "float16 X", "3-D X", "1-D X",
                                  "no rows", "no columns", "nan y", "short y", "no y columns",
                                  "string labels", "continuous labels", "one class"])
def test_other_first_inputs_get_scikit_learns_checks(case, count_validation):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 3))
    y = rng.integers(0, 2, 30)
    Est = MLPRegressor if case in ("nan y", "no y columns") else MLPClassifier
    if case in ("nan y", "no y columns"):
        y = rng.standard_normal(30)
    raises = {
        "nan X": "Input X contains NaN",
        "inf X": "Input X contains infinity",
        "3-D X": "dim 3",
        "1-D X": "Expected a 2-dimensional container|Expected 2D array",
        "no rows": "0 sample",
        "no columns": "0 feature",
        "nan y": "Input y contains NaN",
        "short y": "inconsistent numbers of samples",
        "no y columns": "0 feature",
        "continuous labels": "continuous|class labels",
        "one class": "two classes|one class",
    }.get(case)
    if case == "nan X":
        X[3, 1] = np.nan
    elif case == "inf X":
        X[0, 0] = np.inf
    elif case == "int X":
        X = rng.integers(0, 5, (30, 3))
    elif case == "float16 X":
        X = X.astype(np.float16)
    elif case == "3-D X":
        X = X.reshape(30, 3, 1)
    elif case == "1-D X":
        X = X[:, 0]
    elif case == "no rows":
        X, y = X[:0], y[:0]
    elif case == "no columns":
        X = X[:, :0]
    elif case == "nan y":
        y[4] = np.nan
    elif case == "short y":
        y = y[:-1]
    elif case == "no y columns":
        y = np.empty((30, 0))
    elif case == "string labels":
        y = np.where(y == 1, "yes", "no")
    elif case == "continuous labels":
        y = rng.standard_normal(30)
    elif case == "one class":
        y = np.zeros(30, int)
    est = Est(hidden_layer_sizes=(4,), random_state=0, max_iter=2)
    if raises is None:
        est.fit(X, y)  # converted by validate_data and trained
        assert est.n_features_in_ == 3 and est.coefs_[0].dtype in (np.float32, np.float64)
    else:
        with pytest.raises(ValueError, match=raises):
            est.fit(X, y)
        assert not hasattr(est, "model_") and not hasattr(est, "n_features_in_")
    if case not in ("short y", "one class", "continuous labels", "string labels"):
        assert count_validation == [True]  # X or y went to scikit-learn's own checks


def test_int_random_state_seeds_without_a_random_state(monkeypatch):
    made = []
    real = _base.check_random_state
    monkeypatch.setattr(_base, "check_random_state", lambda v: made.append(v) or real(v))
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 3, 50)
    nets = [MLPClassifier(hidden_layer_sizes=(5,), random_state=rs, max_iter=2).fit(X, y)
            for rs in (11, np.int64(11), np.random.RandomState(11))]
    assert len(made) == 1 and isinstance(made[0], np.random.RandomState)
    for other in nets[1:]:  # the same draw as RandomState(11)'s first randint(2**31 - 1)
        for a, b in zip(nets[0].coefs_, other.coefs_):
            np.testing.assert_array_equal(a, b)
    assert _base._first_seed(11) == np.random.RandomState(11).randint(np.iinfo(np.int32).max)
    # early stopping still splits with a RandomState, and draws the seed from it after
    MLPClassifier(hidden_layer_sizes=(5,), random_state=11, max_iter=2,
                  early_stopping=True).fit(X, y)
    assert made[1:] == [11]
