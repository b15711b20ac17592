"""The estimators' inference fast path (``_BaseMLP._forward``): a plain float array of the
fitted width skips scikit-learn's validate_data; everything else, and every error, takes the
full checks and so gets scikit-learn's own behaviour and messages."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import NotFittedError  # noqa: E402

from nnfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from nnfast.sklearn import _base  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] - X[:, 1] > 0).astype(int), X @ np.arange(1.0, d + 1)


@pytest.mark.parametrize("dtype", ["float32", "float64", "auto"])
def test_fast_path_matches_the_validated_path(dtype, count_validation):
    X, y, t = _data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dtype=dtype).fit(X, y)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dtype=dtype).fit(X, t)
    count_validation.clear()
    for Xq in (X, X.astype(np.float32), np.asfortranarray(X), X[::2], X[:1]):
        proba, pred, value = clf.predict_proba(Xq), clf.predict(Xq), reg.predict(Xq)
        assert not count_validation  # every one of these took the fast path
        # the same calls through the full checks (an int-valued list is not a float array)
        ref = np.asarray(Xq, dtype=clf.model_.dtype)
        expected = clf.model_.predict(_base.validate_data(clf, ref.tolist(), reset=False,
                                                          dtype=clf.model_.dtype))
        np.testing.assert_array_equal(proba[:, 1], expected[:, 0])
        np.testing.assert_array_equal(proba[:, 0], 1 - expected[:, 0])
        np.testing.assert_array_equal(pred, clf.predict(ref.tolist()))
        np.testing.assert_array_equal(value, reg.predict(ref.tolist()))
        count_validation.clear()


def test_binary_probabilities_sum_to_one_in_the_model_dtype():
    X, y, _ = _data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.dtype == clf.model_.dtype and proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_gets_scikit_learns_error(bad, count_validation):
    X, y, _ = _data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    Xq = X[:3].copy()
    Xq[1, 2] = bad
    count_validation.clear()
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        clf.predict_proba(Xq)
    assert count_validation == [False]  # fell back to the full checks, which raised


def test_other_inputs_take_the_full_checks(count_validation):
    X, y, _ = _data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    count_validation.clear()
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="2D array"):
        clf.predict(X[0])
    np.testing.assert_array_equal(clf.predict(X.round().astype(int)),
                                  clf.predict(X.round()))  # integers are converted
    assert len(count_validation) == 3
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)


def test_feature_names_are_still_checked(count_validation):
    """Fitted on a DataFrame: a plain array then gets scikit-learn's feature-name warning."""
    pd = pytest.importorskip("pandas")
    X, y, _ = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(frame, y)
    count_validation.clear()
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        pred = clf.predict(X)
    np.testing.assert_array_equal(pred, clf.predict(frame))
    assert count_validation == [False]  # the frame of the fitted names took the fast path


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")  # (the references)
def test_a_frame_of_the_fitted_names_skips_validation(count_validation):
    """A DataFrame whose columns are feature_names_in_, in order, is only converted; any
    other frame gets scikit-learn's checks: its errors, warnings and conversions."""
    pd = pytest.importorskip("pandas")
    X, y, t = _data()
    names = ["a", "b", "c", "d"]
    frame = pd.DataFrame(X, columns=names)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(frame, y)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(frame, t)
    count_validation.clear()
    mixed = frame.astype({"a": np.float32})  # two blocks: to_numpy's common dtype, float64
    for fq in (frame, frame.iloc[:1], frame.iloc[::3], mixed):
        expected = clf.model_.predict(_base.validate_data(clf, fq.to_numpy().tolist(),
                                                          reset=False, dtype=clf.model_.dtype))
        np.testing.assert_array_equal(clf.predict_proba(fq)[:, 1], expected[:, 0])
        np.testing.assert_array_equal(reg.predict(fq), reg.predict(fq.to_numpy().tolist()))
        count_validation.clear()
        clf.predict(fq), reg.predict(fq)
        assert not count_validation
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[["b", "a", "c", "d"]])  # reordered
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"d": "e"}))
    bad = frame.iloc[:2].copy()
    bad.iloc[1, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(bad)
    assert len(count_validation) == 3
    as_ints = frame.round().astype(int)  # integers: validate_data converts them
    np.testing.assert_array_equal(clf.predict(as_ints), clf.predict(frame.round()))
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="fitted without feature names"):
        np.testing.assert_array_equal(plain.predict(frame), plain.predict(X))


@pytest.mark.parametrize("labels", [
    np.array([3, 1, 3, 7, 1, 7] * 5), np.array([True, False] * 15), np.array([2.0, -1.0, 0.0] * 10),
    np.array(["b", "a", "c"] * 10), np.array([np.int8(4), np.int8(-2)] * 15, dtype=np.int8),
])
def test_target_encoding_keeps_scikit_learns_classes(labels):
    """The classes found with one type_of_target call are unique_labels' (any label dtype),
    and partial_fit continues with them."""
    from sklearn.utils.multiclass import unique_labels

    X = np.random.default_rng(0).standard_normal((len(labels), 3))
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, unique_labels(labels))
    assert clf.classes_.dtype == unique_labels(labels).dtype
    assert set(clf.predict(X).tolist()) <= set(clf.classes_.tolist())
    inc = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    inc.partial_fit(X, labels, classes=np.unique(labels))
    inc.partial_fit(X[:7], labels[:7])
    np.testing.assert_array_equal(inc.classes_, unique_labels(labels))
    with pytest.raises(ValueError, match="classes among"):
        inc.partial_fit(X[:2], np.array([labels[0], "zz" if labels.dtype.kind == "U" else 99]))


@pytest.mark.parametrize("y, message", [
    (np.array([0.5, 1.5, 2.2, 0.1, 3.3, 1.0]), "Unknown label type"),
    (np.array([1, "a", 2, "b", 1, "a"], dtype=object), "Unknown label type"),
])
def test_bad_targets_get_scikit_learns_error(y, message):
    X = np.zeros((6, 3))
    with pytest.raises(ValueError, match=message):
        MLPClassifier(max_iter=2).fit(X, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_probabilities_are_one_minus_p_and_p_exactly(dtype):
    X, y, _ = _data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dtype=dtype).fit(X, y)
    X = np.vstack([X, 1e4 * X[:2], -1e4 * X[:2]]).astype(dtype)  # and far out: p near 0 or 1
    p = clf.model_.predict(X)[:, 0]
    proba = clf.predict_proba(X)
    assert proba.dtype == np.dtype(dtype) and proba.shape == (X.shape[0], 2)
    np.testing.assert_array_equal(proba, np.column_stack([1 - p, p]))
