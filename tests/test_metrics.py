"""Metrics: functions and streaming objects against scikit-learn, hand-worked values, errors."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast.metrics as M

NAMES = ["accuracy", "precision", "recall", "f1", "auc", "mae", "mse"]


def _binary_case(rng, n, ties=False):
    p = rng.random(n)
    if ties:
        p = np.round(p, 1)
    y = (rng.random(n) < p * 0.8 + 0.1).astype(np.int64)  # informative, not perfect
    return y, p[:, None]


def _multiclass_case(rng, n, k, ties=False):
    logits = rng.standard_normal((n, k)) * 2
    y = rng.integers(0, k, n)
    logits[np.arange(n), y] += 1.0
    if ties:
        logits = np.round(logits)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return y, p / p.sum(1, keepdims=True)


def _sk():
    return pytest.importorskip("sklearn.metrics")


# --------------------------------------------------------------------------- scikit-learn oracles

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_match_sklearn(seed, weighted):
    sk = _sk()
    rng = np.random.default_rng(seed)
    y, p = _binary_case(rng, 200 + seed, ties=seed % 2 == 1)
    w = rng.random(y.size) if weighted else None
    pred = (p[:, 0] > 0.5).astype(int)
    expect = {
        "accuracy": sk.accuracy_score(y, pred, sample_weight=w),
        "precision": sk.precision_score(y, pred, sample_weight=w, zero_division=0),
        "recall": sk.recall_score(y, pred, sample_weight=w, zero_division=0),
        "f1": sk.f1_score(y, pred, sample_weight=w, zero_division=0),
        "auc": sk.roc_auc_score(y, p[:, 0], sample_weight=w),
    }
    for name, value in expect.items():
        fn = getattr(M, name)
        assert fn(y, p, sample_weight=w) == pytest.approx(value, rel=1e-12, abs=1e-14), name
        assert fn(y[:, None].astype(np.float32), p[:, 0], sample_weight=w) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [2, 3, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_metrics_match_sklearn_macro(seed, k, weighted):
    sk = _sk()
    rng = np.random.default_rng(100 * k + seed)
    y, p = _multiclass_case(rng, 300, k, ties=seed % 3 == 0)
    w = rng.random(y.size) if weighted else None
    pred = p.argmax(1)
    expect = {
        "accuracy": sk.accuracy_score(y, pred, sample_weight=w),
        "precision": sk.precision_score(y, pred, average="macro", sample_weight=w, zero_division=0),
        "recall": sk.recall_score(y, pred, average="macro", sample_weight=w, zero_division=0),
        "f1": sk.f1_score(y, pred, average="macro", sample_weight=w, zero_division=0),
        "auc": (sk.roc_auc_score(y, p[:, 1], sample_weight=w) if k == 2 else
                sk.roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=w)),
    }
    onehot = np.eye(k, dtype=np.float32)[y]
    for name, value in expect.items():
        fn = getattr(M, name)
        assert fn(y, p, sample_weight=w) == pytest.approx(value, rel=1e-12, abs=1e-14), name
        assert fn(onehot, p, sample_weight=w) == pytest.approx(value, rel=1e-12, abs=1e-14), name


def test_macro_average_skips_classes_absent_from_labels_and_predictions():
    sk = _sk()
    # 5 outputs, but classes 3 and 4 never occur: scikit-learn averages over the classes seen
    y = np.array([0, 1, 2, 2, 1, 0, 0])
    p = np.eye(5)[[0, 2, 2, 1, 1, 0, 1]] * 0.9 + 0.02
    pred = p.argmax(1)
    for name, fn in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        assert getattr(M, name)(y, p) == pytest.approx(fn(y, pred, average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_match_sklearn(seed, k, weighted):
    sk = _sk()
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((50, k))
    p = t + rng.standard_normal((50, k)) * 0.3
    w = rng.random(50) if weighted else None
    assert M.mae(t, p, w) == pytest.approx(sk.mean_absolute_error(t, p, sample_weight=w), rel=1e-12)
    assert M.mse(t, p, w) == pytest.approx(sk.mean_squared_error(t, p, sample_weight=w), rel=1e-12)
    if k == 1:
        assert M.mse(t[:, 0], p, w) == pytest.approx(sk.mean_squared_error(t, p, sample_weight=w), rel=1e-12)


# --------------------------------------------------------------------------- hand-worked values

def test_hand_worked_binary():
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.6, 0.2, 0.5])  # 0.5 is not > 0.5: predicted negative
    # predictions 1 0 1 0 0 -> tp 1, fp 1, fn 2, tn 1
    assert M.accuracy(y, p) == pytest.approx(2 / 5)
    assert M.precision(y, p) == pytest.approx(1 / 2)
    assert M.recall(y, p) == pytest.approx(1 / 3)
    assert M.f1(y, p) == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    # AUC: positive scores {0.9, 0.4, 0.5} vs negative {0.6, 0.2}: 4 of 6 pairs ordered right
    assert M.auc(y, p) == pytest.approx(4 / 6)


def test_auc_counts_ties_as_half():
    y = np.array([0, 1, 0, 1])
    s = np.array([0.5, 0.5, 0.2, 0.8])
    # pairs (pos, neg): (0.5, 0.5) tie = 1/2, the other three ordered: 3.5 / 4
    assert M.auc(y, s) == pytest.approx(0.875)
    assert M.auc(np.array([0, 1]), np.array([0.3, 0.3])) == 0.5


def test_undefined_cases():
    assert np.isnan(M.auc(np.array([1, 1, 1]), np.array([0.2, 0.3, 0.9])))
    assert M.precision(np.array([1, 0]), np.array([0.1, 0.2])) == 0.0  # nothing predicted positive
    assert M.recall(np.array([0, 0]), np.array([0.7, 0.2])) == 0.0  # no positives
    for name in NAMES:
        assert M.get(name).result() == 0.0  # before any update


def test_binary_predictions_given_as_0_1_integers():
    sk = _sk()
    y = np.array([0, 1, 1, 0, 1])
    pred = np.array([0, 1, 0, 0, 1])
    assert M.accuracy(y, pred) == sk.accuracy_score(y, pred)
    assert M.precision(y, pred) == sk.precision_score(y, pred)
    assert M.f1(y, pred.astype(bool)) == sk.f1_score(y, pred)


def test_labels_as_integral_floats_and_column_vectors():
    y = np.array([2, 0, 1, 1])
    p = np.eye(3)[[2, 0, 0, 1]] * 0.8 + 0.05
    assert M.accuracy(y.astype(np.float64), p) == M.accuracy(y[:, None], p) == M.accuracy(y, p) == 0.75
    assert M.accuracy(y.astype(np.uint8), p.astype(np.float32)) == 0.75


# --------------------------------------------------------------------------- streaming objects

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_streaming_over_batches_equals_the_function_on_everything(name, kind):
    rng = np.random.default_rng(7)
    if name in ("mae", "mse"):
        y = rng.standard_normal((130, 2))
        p = y + rng.standard_normal((130, 2)) * 0.5
    elif kind == "binary":
        y, p = _binary_case(rng, 130, ties=True)
    else:
        y, p = _multiclass_case(rng, 130, 4, ties=True)
    w = rng.random(130)
    m = M.get(name)
    cuts = [0, 1, 17, 17, 64, 99, 130]  # includes an empty batch and a single sample
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        m.update_state(y[lo:hi], p[lo:hi], sample_weight=w[lo:hi])
    assert m.result() == pytest.approx(getattr(M, name)(y, p, sample_weight=w), rel=1e-12)
    m.reset_state()
    m.update_state(y[:50], p[:50])
    assert m.result() == pytest.approx(getattr(M, name)(y[:50], p[:50]), rel=1e-12)


def test_streaming_copies_what_it_keeps():
    y, p = _binary_case(np.random.default_rng(3), 40)
    m = M.AUC()
    buf = p.copy()
    m.update_state(y, buf)
    before = m.result()
    buf[:] = 0.5  # the training loop reuses its output buffer
    assert m.result() == before


def test_get_names_aliases_objects_and_callables():
    classes = {"accuracy": M.Accuracy, "acc": M.Accuracy, "precision": M.Precision, "recall": M.Recall,
               "f1": M.F1, "auc": M.AUC, "mae": M.MeanAbsoluteError, "mse": M.MeanSquaredError}
    for name, cls in classes.items():
        m = M.get(name)
        assert type(m) is cls and m.name == name
    assert M.get("ACC").name == "ACC"
    obj = M.F1(name="f1_score")
    assert M.get(obj) is obj

    def max_error(t, p):
        return float(np.max(np.abs(np.ravel(t) - np.ravel(p))))

    wrapped = M.get(max_error)
    assert wrapped.name == "max_error"
    wrapped.update_state(np.array([0.0, 0.0]), np.array([1.0, 3.0]))  # 3.0, 2 samples
    wrapped.update_state(np.array([0.0]), np.array([0.0]))  # 0.0, 1 sample
    assert wrapped.result() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="Expected a metric name") as info:
        M.get("top5")
    for name in NAMES:
        assert name in str(info.value)
    with pytest.raises(TypeError, match="Expected a metric name"):
        M.get(5)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: M.accuracy(np.array([0, 1, 3]), np.full((3, 3), 1 / 3)), ValueError, r"Expected y_true labels in \[0, 3\).*3"),
    (lambda: M.accuracy(np.array([0, -1]), np.full((2, 3), 1 / 3)), ValueError, r"Expected y_true labels.*-1"),
    (lambda: M.accuracy(np.array([0.5, 1.0]), np.full((2, 3), 1 / 3)), TypeError, "Expected y_true to hold integer class labels"),
    (lambda: M.accuracy(np.array([0, 1]), np.full((3, 3), 1 / 3)), ValueError, r"Expected y_true of shape \(3,\)"),
    (lambda: M.accuracy(np.zeros((3, 2)), np.full((3, 3), 1 / 3)), ValueError, r"received: y_true.shape=\(3, 2\)"),
    (lambda: M.precision(np.array([0, 1]), np.array([0.1, 0.2, 0.3])), ValueError, r"Expected y_true of shape \(3,\)"),
    (lambda: M.auc(np.array([0, 1]), np.zeros((2, 2, 2))), ValueError, r"Expected y_pred of shape \(n, k\)"),
    (lambda: M.mse(np.zeros((4, 2)), np.zeros((4, 3))), ValueError, r"Expected y_true of the shape of y_pred"),
    (lambda: M.mae(np.zeros(3), np.zeros(3), sample_weight=np.array([1.0, -1.0, 1.0])), ValueError, "sample_weight"),
    (lambda: M.mae(np.zeros(3), np.zeros(3), sample_weight=np.ones(2)), ValueError, r"Expected sample_weight of shape \(3,\)"),
    (lambda: M.accuracy(np.zeros(0), np.zeros((0, 1))), ValueError, "Expected at least one sample"),
    (lambda: M.accuracy(np.array(["a", "b"]), np.zeros((2, 2))), TypeError, "y_true"),
    (lambda: M.accuracy(np.array([0, 1]), np.array([["a"], ["b"]])), TypeError, "y_pred"),
    # class labels where probabilities are expected: an error, not a silently wrong answer
    (lambda: M.accuracy(np.array([0, 1, 2]), np.array([0, 1, 1])), ValueError, r"Expected y_true in \[0, 1\].*2"),
    (lambda: M.accuracy(np.array([0, 1, 1]), np.array([0, 2, 1])), ValueError, r"Expected y_pred to hold probabilities.*2"),
    (lambda: M.f1(np.array([0.0, -1.0]), np.array([0.2, 0.9])), ValueError, r"Expected y_true in \[0, 1\]"),
])
def test_bad_inputs_name_the_argument(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_streaming_rejects_a_change_of_width():
    for name in ("f1", "auc"):
        m = M.get(name)
        m.update_state(np.array([0, 1]), np.full((2, 3), 1 / 3))
        with pytest.raises(ValueError, match="columns as in earlier batches"):
            m.update_state(np.array([0, 1]), np.full((2, 4), 1 / 4))


@pytest.mark.parametrize("k", [1, 4])
def test_streaming_auc_over_many_uneven_batches_matches_sklearn(k):
    sk = _sk()
    rng = np.random.default_rng(11)
    if k == 1:
        y, p = _binary_case(rng, 3000, ties=True)
        expected = sk.roc_auc_score(y, p[:, 0])
    else:
        y, p = _multiclass_case(rng, 3000, k, ties=True)
        expected = sk.roc_auc_score(y, p, multi_class="ovr")
    m = M.AUC()
    lo = 0
    while lo < y.size:  # batches of 1 to 96 samples: many merges of the sorted runs
        hi = min(y.size, lo + int(rng.integers(1, 97)))
        m.update_state(y[lo:hi], p[lo:hi])
        lo = hi
    assert m.result() == pytest.approx(expected, rel=1e-12)


def _auc_by_pairs(y, s, w):
    """The definition: weighted share of (positive, negative) pairs ranked right, ties 1/2."""
    pos, neg = y == 1, y == 0
    right = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
    return float(w[pos] @ right @ w[neg] / (w[pos].sum() * w[neg].sum()))


@given(data=st.data(), n=st.integers(2, 60), levels=st.integers(2, 12))
def test_auc_is_the_pair_count_for_any_batching(data, n, levels):
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    s = np.array(data.draw(st.lists(st.integers(0, levels), min_size=n, max_size=n))) / levels  # ties
    w = np.array(data.draw(st.lists(st.floats(0.1, 3.0), min_size=n, max_size=n)))
    if y.min() == y.max():
        assert np.isnan(M.auc(y, s, w))
        return
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=6)))
    m = M.AUC()
    for lo, hi in zip([0, *cuts], [*cuts, n]):
        m.update_state(y[lo:hi], s[lo:hi], sample_weight=w[lo:hi])
        if data.draw(st.booleans()):
            m.result()  # counting in between must not change the final answer
    expected = _auc_by_pairs(y, s, w)
    assert m.result() == pytest.approx(expected, rel=1e-12)
    assert M.auc(y, s, w) == pytest.approx(expected, rel=1e-12)


def test_auc_of_a_diverged_model_is_nan_not_an_error():
    m = M.AUC()
    m.update_state(np.array([0, 1]), np.array([[0.2], [0.7]]))
    m.update_state(np.array([1, 0]), np.array([[np.nan], [0.1]]))  # the training loop goes on
    assert np.isnan(m.result())
    m.reset_state()
    m.update_state(np.array([0, 1]), np.array([[0.2], [0.7]]))
    assert m.result() == 1.0
