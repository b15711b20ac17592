"""A later ``partial_fit``'s light checks: plain arrays (a finite float X of the fitted width,
integer, boolean or finite float targets) skip scikit-learn's validate_data and, for integer
labels, type_of_target; they train exactly as the validated path, and every other input still
gets scikit-learn's checks, warnings and errors."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from nnfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from nnfast.sklearn import _base, _params  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _batches(seed=0, n=48, d=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, rng


@pytest.mark.parametrize("kind", ["binary", "multiclass", "bool", "multilabel", "regression",
                                  "two outputs"])
def test_plain_batches_train_as_the_validated_path(kind, count_validation):
    X, rng = _batches()
    targets = {
        "binary": lambda n: rng.integers(0, 2, n),
        "multiclass": lambda n: rng.integers(0, 4, n),
        "bool": lambda n: rng.random(n) > 0.5,
        "multilabel": lambda n: rng.integers(0, 2, (n, 3)),
        "regression": lambda n: rng.standard_normal(n),
        "two outputs": lambda n: rng.standard_normal((n, 2)),
    }[kind]
    Est = MLPRegressor if kind in ("regression", "two outputs") else MLPClassifier
    y = targets(len(X))
    first = {"classes": np.arange(3) if kind == "multilabel" else np.unique(y)}
    first = {} if Est is MLPRegressor else first
    fast, checked = (Est(hidden_layer_sizes=(6,), random_state=0).partial_fit(X, y, **first)
                     for _ in range(2))
    count_validation.clear()
    for step in range(4):
        Xb = _batches(step + 1)[0]
        yb = targets(len(Xb))
        fast.partial_fit(Xb, yb)
        assert not count_validation  # the plain batch skipped validate_data
        checked.partial_fit(Xb.tolist(), yb.tolist())  # lists: validate_data converts them
        assert count_validation == [False]
        count_validation.clear()
    for a, b in zip(fast.coefs_ + fast.intercepts_, checked.coefs_ + checked.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert fast.loss_curve_ == checked.loss_curve_ and fast.t_ == checked.t_


def test_bad_later_batches_get_scikit_learns_errors(count_validation):
    X, rng = _batches()
    clf = MLPClassifier(hidden_layer_sizes=(6,), random_state=0)
    clf.partial_fit(X, rng.integers(0, 3, len(X)), classes=[0, 1, 2])
    reg = MLPRegressor(hidden_layer_sizes=(6,), random_state=0).partial_fit(X, X[:, 0])
    before = [w.copy() for w in clf.coefs_]
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.partial_fit(bad, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 5"):
        clf.partial_fit(X[:, :3], np.zeros(len(X), int))
    with pytest.raises(ValueError, match="classes among"):
        clf.partial_fit(X, np.full(len(X), 7))
    with pytest.raises(ValueError, match="consistent numbers of samples|inconsistent"):
        clf.partial_fit(X, np.zeros(len(X) - 1, int))
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        reg.partial_fit(X, np.where(np.arange(len(X)) == 3, np.inf, X[:, 0]))
    with pytest.raises(ValueError, match="continuous|class labels"):
        clf.partial_fit(X, X[:, 0])  # float targets that are not labels
    for a, b in zip(before, clf.coefs_):
        np.testing.assert_array_equal(a, b)  # every refused call left the network as it was
    assert count_validation  # these went through the full checks
    with pytest.raises(_params.InvalidParameterError, match="random_state"):
        clf.set_params(random_state=-1).partial_fit(X, np.zeros(len(X), int))
    with pytest.raises(_params.InvalidParameterError, match="random_state"):
        clf.set_params(random_state=2**32).partial_fit(X, np.zeros(len(X), int))


def test_later_partial_fit_makes_no_random_state(monkeypatch):
    X, rng = _batches()
    clf = MLPClassifier(hidden_layer_sizes=(6,), random_state=3)
    clf.partial_fit(X, rng.integers(0, 2, len(X)), classes=[0, 1])
    made = []
    real = _base.check_random_state
    monkeypatch.setattr(_base, "check_random_state", lambda v: made.append(v) or real(v))
    clf.partial_fit(X, rng.integers(0, 2, len(X)))
    assert made == []  # nothing drawn from it after the first call: ~150 us saved
    y = rng.integers(0, 2, len(X))
    by_int = MLPClassifier(hidden_layer_sizes=(6,), random_state=3, max_iter=3).fit(X, y)
    assert made == []  # an int seeds a new network through the cached first draw (_first_seed)
    state = np.random.RandomState(3)
    by_state = MLPClassifier(hidden_layer_sizes=(6,), random_state=state, max_iter=3).fit(X, y)
    assert made == [state]
    for a, b in zip(by_int.coefs_ + by_int.intercepts_, by_state.coefs_ + by_state.intercepts_):
        np.testing.assert_array_equal(a, b)  # the same network as a RandomState(3) seeds
