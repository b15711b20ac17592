"""Evaluation metrics: plain functions, and streaming ``Metric`` objects for the training loop.

``y_pred`` is the model's output, probabilities or values, of shape ``(n, k)`` (``(n,)`` is
read as ``(n, 1)``). ``y_true`` is integer labels ``(n,)`` or an array ``(n, k)``: one-hot
when ``k > 1``, 0/1 when ``k == 1`` (binary), values for regression. Classification rules:

- ``k == 1``: binary; a sample is predicted positive when ``p > 0.5`` and is truly positive
  when ``y_true > 0.5``; precision/recall/f1 are those of the positive class; ``auc`` ranks
  the scores ``p``.
- ``k > 1``: the predicted class is ``argmax(p)``, the true class is the label or the argmax
  of the one-hot row; precision/recall/f1/auc are macro averages over classes, one-vs-rest
  (as scikit-learn's ``average="macro"``: over the classes present in ``y_true`` or the
  predictions; for ``auc``, over the classes with both positives and negatives).

Undefined ratios (no predicted positives, ...) count as 0, as scikit-learn's default.
``auc`` is the exact ROC AUC (trapezoid over all thresholds, ties handled), ``nan`` when
only one class is present. ``sample_weight`` weights samples (rows) everywhere.

Streaming objects (:func:`get`) accumulate over batches: ``reset_state()``,
``update_state(y_true, y_pred, sample_weight=None)``, ``result() -> float`` (0.0 before any
update). They copy what they keep, so the caller may reuse its buffers.

>>> import numpy as np
>>> import nnfast.metrics as M
>>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> M.accuracy(np.array([0, 1, 1]), p)
0.6666666666666666
>>> m = M.get("acc")
>>> m.update_state(np.array([0, 1]), p[:2]); m.update_state(np.array([1]), p[2:]); m.result()
0.6666666666666666
"""


import numpy as np

__all__ = [
    "accuracy", "precision", "recall", "f1", "auc", "mae", "mse",
    "Metric", "Accuracy", "Precision", "Recall", "F1", "AUC", "MeanAbsoluteError",
    "MeanSquaredError", "MeanMetricWrapper", "get",
]


# --------------------------------------------------------------------------- input handling

def _pred(y_pred):
    p = np.asarray(y_pred)
    if p.dtype.kind not in "fiub":
        raise TypeError(f"Expected y_pred to hold numbers, received: y_pred with dtype {p.dtype}")
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise ValueError(f"Expected y_pred of shape (n, k) or (n,), received: y_pred.shape={p.shape}")
    return p


def _weights(sample_weight, n):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        raise ValueError(f"Expected sample_weight of shape ({n},), received: sample_weight.shape={w.shape}")
    if not np.all(np.isfinite(w)) or (n and w.min() < 0):
        raise ValueError("Expected sample_weight to be finite and >= 0, received: a negative or non-finite weight")
    return w


def _classes(y_true, y_pred):
    """``(true_class, pred_class, k, p)``: class indices (intp) for both, for k >= 2 classes.

    Binary (one output column) gives classes 0/1 with k = 2.
    """
    p = _pred(y_pred)
    n, k = p.shape
    t = np.asarray(y_true)
    if k == 1:
        if t.ndim == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.shape != (n,):
            raise ValueError(
                f"Expected y_true of shape ({n},) or ({n}, 1) for a single-output y_pred, "
                f"received: y_true.shape={t.shape}"
            )
        if t.dtype.kind not in "fiub":
            raise TypeError(f"Expected y_true to hold 0/1 values, received: y_true with dtype {t.dtype}")
        if n and (t.min() < 0 or t.max() > 1):
            bad = t.min() if t.min() < 0 else t.max()
            raise ValueError(
                "Expected y_true in [0, 1] for a single-output (binary) y_pred, received: "
                f"a value {bad} (for {int(bad) + 1}+ classes pass y_pred as probabilities (n, k))"
            )
        if n and p.dtype.kind in "iu" and p.max() > 1:
            raise ValueError(
                "Expected y_pred to hold probabilities of shape (n, k) (or 0/1 for a binary "
                f"output), received: integer y_pred with a value {p.max()} (class labels? pass "
                "the predicted probabilities instead)"
            )
        return (t > 0.5).astype(np.intp), (p[:, 0] > 0.5).astype(np.intp), 2, p
    if t.ndim == 2 and t.shape == (n, k):
        return np.argmax(t, axis=1), np.argmax(p, axis=1), k, p
    if t.ndim == 2 and t.shape == (n, 1):
        t = t[:, 0]
    if t.shape != (n,):
        raise ValueError(
            f"Expected y_true of shape ({n},) (labels) or ({n}, {k}) (one-hot), received: y_true.shape={t.shape}"
        )
    if t.dtype.kind == "f":
        if not np.all(t == np.round(t)):
            raise TypeError("Expected y_true to hold integer class labels, received: non-integer floats")
    elif t.dtype.kind not in "iub":
        raise TypeError(f"Expected y_true to hold integer class labels, received: y_true with dtype {t.dtype}")
    if n:
        lo, hi = t.min(), t.max()
        if lo < 0 or hi >= k:
            raise ValueError(f"Expected y_true labels in [0, {k}), received: a label {lo if lo < 0 else hi}")
    return t.astype(np.intp), np.argmax(p, axis=1), k, p


def _values(y_true, y_pred):
    """``(t, p)`` as float64 arrays of one shape ``(n, k)`` for the regression metrics."""
    p = _pred(y_pred)
    t = np.asarray(y_true)
    if t.ndim == 1:
        t = t[:, None]
    if t.shape != p.shape:
        raise ValueError(
            f"Expected y_true of the shape of y_pred {p.shape}, received: y_true.shape={np.shape(y_true)}"
        )
    if t.dtype.kind not in "fiub":
        raise TypeError(f"Expected y_true to hold numbers, received: y_true with dtype {t.dtype}")
    return t, p


# --------------------------------------------------------------------------- streaming objects

class Metric:
    """Base class of streaming metrics: ``name``, ``reset_state``, ``update_state``, ``result``.

    Parameters
    ----------
    name : str, optional
        The key the training loop logs the metric under. Defaults to the class's name.

    Examples
    --------
    >>> import numpy as np
    >>> class Count(Metric):
    ...     default_name = "count"
    ...     def reset_state(self):
    ...         self.n = 0
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.n += len(y_pred)
    ...     def result(self):
    ...         return float(self.n)
    >>> m = Count(); m.update_state(None, np.zeros((3, 1))); m.name, m.result()
    ('count', 3.0)
    """

    default_name = "metric"

    def __init__(self, name=None):
        self.name = self.default_name if name is None else str(name)
        self.reset_state()

    def reset_state(self):
        """Forget everything accumulated."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulate one batch."""
        raise NotImplementedError

    def result(self):
        """The metric over everything accumulated since the last reset, as a float."""
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Fraction of samples whose predicted class equals the true class (weighted).

    >>> import numpy as np
    >>> m = Accuracy(); m.update_state(np.array([1, 0]), np.array([[0.7], [0.8]])); m.result()
    0.5
    """

    default_name = "accuracy"

    def reset_state(self):
        self._correct = 0.0
        self._total = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, c, _, _ = _classes(y_true, y_pred)
        w = _weights(sample_weight, t.shape[0])
        hit = t == c
        self._correct += float(hit.sum()) if w is None else float(w[hit].sum())
        self._total += float(t.shape[0]) if w is None else float(w.sum())

    def update_counts(self, correct, total):
        """Accumulate hits counted elsewhere (the compiled training plan counts them in C)."""
        self._correct += float(correct)
        self._total += float(total)

    def result(self):
        return self._correct / self._total if self._total else 0.0


class _Confusion(Metric):
    """Accumulates per-class true positives and predicted/true totals; subclasses score them.

    ``result()`` works on Python floats: for the few classes of a typical model that is
    several times cheaper than NumPy on tiny arrays, and the training loop asks for it after
    every batch.
    """

    def reset_state(self):
        self._k = None
        self._binary = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, c, k, p = _classes(y_true, y_pred)
        w = _weights(sample_weight, t.shape[0])
        binary = p.shape[1] == 1
        if self._k is None:
            self._k, self._binary = k, binary
            self._tp, self._pred, self._true = np.zeros(k), np.zeros(k), np.zeros(k)
            self._seen = np.zeros(k, bool)  # classes present (unweighted) in y_true or predictions
        elif self._k != k or self._binary != binary:
            raise ValueError(
                f"Expected y_pred with {1 if self._binary else self._k} columns as in earlier "
                f"batches, received: y_pred.shape={p.shape}"
            )
        hit = t == c
        true = np.bincount(t, minlength=k)
        pred = np.bincount(c, minlength=k)
        self._seen |= (true + pred) > 0
        if w is None:
            self._true += true
            self._pred += pred
            self._tp += np.bincount(t[hit], minlength=k)
        else:
            self._true += np.bincount(t, weights=w, minlength=k)
            self._pred += np.bincount(c, weights=w, minlength=k)
            self._tp += np.bincount(t[hit], weights=w[hit], minlength=k)

    @staticmethod
    def _score(tp, pred, true):
        raise NotImplementedError

    def result(self):
        if self._k is None:
            return 0.0
        tp, pred, true = self._tp.tolist(), self._pred.tolist(), self._true.tolist()
        if self._binary:
            return float(self._score(tp[1], pred[1], true[1]))
        scores = [self._score(tp[i], pred[i], true[i]) for i in np.flatnonzero(self._seen).tolist()]
        return float(sum(scores) / len(scores)) if scores else 0.0


class Precision(_Confusion):
    """``tp / (tp + fp)``: of the binary positive class, or macro over classes.

    >>> import numpy as np
    >>> m = Precision(); m.update_state(np.array([1, 0, 1]), np.array([[0.9], [0.8], [0.1]]))
    >>> m.result()
    0.5
    """

    default_name = "precision"

    @staticmethod
    def _score(tp, pred, true):
        return tp / pred if pred else 0.0


class Recall(_Confusion):
    """``tp / (tp + fn)``: of the binary positive class, or macro over classes.

    >>> import numpy as np
    >>> m = Recall(); m.update_state(np.array([1, 0, 1]), np.array([[0.9], [0.8], [0.1]]))
    >>> m.result()
    0.5
    """

    default_name = "recall"

    @staticmethod
    def _score(tp, pred, true):
        return tp / true if true else 0.0


class F1(_Confusion):
    """``2·tp / (2·tp + fp + fn)``: of the binary positive class, or macro over classes.

    >>> import numpy as np
    >>> m = F1(); m.update_state(np.array([1, 0, 1]), np.array([[0.9], [0.8], [0.1]]))
    >>> m.result()
    0.5
    """

    default_name = "f1"

    @staticmethod
    def _score(tp, pred, true):
        return 2.0 * tp / (pred + true) if pred + true else 0.0


class _PairCounter:
    """Per column, the running weighted count of (positive, negative) pairs ranked right.

    ROC AUC of a column = its count (ties counting 1/2) / (positive weight · negative weight):
    the Mann-Whitney statistic, equal to the trapezoid area under the ROC curve over all
    thresholds. The scores seen are kept as a few sorted runs whose lengths fall geometrically
    (merged like a binary counter), each with prefix sums of its positive and negative
    weights; new scores, sorted, are counted against every run with binary searches. Adding
    ``b`` samples to ``n`` costs O(k·b·log² n) amortized; ``auc()`` is O(k).
    """

    def __init__(self, k):
        self.k = k
        self._rows = np.arange(k)[:, None]
        self.runs = []  # (m, keys (k, m) sorted per row, pos w (k, m), neg w (k, m), prefix (k, m+1, 2))
        self.pairs = np.zeros(k)
        self.pos = np.zeros(k)
        self.neg = np.zeros(k)

    def _run(self, m, keys, posw, negw):
        order = np.argsort(keys, axis=1, kind="stable")
        rows = self._rows
        keys, posw, negw = keys[rows, order], posw[rows, order], negw[rows, order]
        cum = np.zeros((self.k, m + 1, 2))
        np.cumsum(posw, axis=1, out=cum[:, 1:, 0])
        np.cumsum(negw, axis=1, out=cum[:, 1:, 1])
        return m, keys, posw, negw, cum

    def _ranked(self, run, keys, posw, negw):
        """Per column: pairs between the queries (k, b) and ``run`` whose positive ranks above."""
        m, run_keys, _, _, cum = run
        if self.k == 1:  # the binary case, without the per-column bookkeeping
            rk, c, q = run_keys[0], cum[0], keys[0]
            mid = c[rk.searchsorted(q, side="left")]
            mid += c[rk.searchsorted(q, side="right")]
            mid *= 0.5
            return np.array([posw[0] @ mid[:, 1] + negw[0] @ (c[-1, 0] - mid[:, 0])])
        lo = np.empty(keys.shape, dtype=np.intp)
        hi = np.empty(keys.shape, dtype=np.intp)
        for c in range(self.k):  # sorted needles: each search resumes where the last ended
            lo[c] = run_keys[c].searchsorted(keys[c], side="left")
            hi[c] = run_keys[c].searchsorted(keys[c], side="right")
        flat = cum.reshape(-1, 2)
        base = np.arange(0, self.k * (m + 1), m + 1)[:, None]
        # mass below the score + half the mass tied with it, as (positive, negative)
        mid = flat[lo + base]
        mid += flat[hi + base]
        mid *= 0.5
        pos_above = cum[:, -1, 0, None] - mid[..., 0]
        return (posw * mid[..., 1] + negw * pos_above).sum(axis=1)

    def add(self, scores, positive, weight):
        """Count ``scores`` (b, k) with ``positive`` (b, k) flags and row weights (b,)."""
        posw = np.where(positive.T, weight, 0.0)
        new = self._run(scores.shape[0], np.array(scores.T, dtype=np.float64), posw, weight - posw)
        _, keys, posw, negw, _ = new
        for run in self.runs:
            self.pairs += self._ranked(run, keys, posw, negw)
        self.pairs += self._ranked(new, keys, posw, np.zeros_like(negw))  # pairs within the batch
        self.pos += posw.sum(axis=1)
        self.neg += negw.sum(axis=1)
        self.runs.append(new)
        while len(self.runs) > 1 and self.runs[-2][0] <= 2 * self.runs[-1][0]:
            y, x = self.runs.pop(), self.runs.pop()
            self.runs.append(self._run(x[0] + y[0], *(np.concatenate([x[i], y[i]], axis=1) for i in (1, 2, 3))))

    def auc(self):
        """Per column AUC (nan where a column has no positives or no negatives)."""
        both = (self.pos > 0) & (self.neg > 0)
        out = np.full(self.k, np.nan)
        out[both] = self.pairs[both] / (self.pos[both] * self.neg[both])
        return out


class AUC(Metric):
    """Exact ROC AUC (binary, or one-vs-rest macro) of every score seen since the reset.

    ``update_state`` only validates and keeps a copy of the batch (O(b)); ``result()`` counts
    the batches kept since the last result against the sorted runs of the earlier ones (see
    ``_PairCounter``): O(b log² n) for ``b`` new samples after ``n``, so asking for the result
    rarely (at epoch end, when a progress bar redraws) is cheapest. A nan score makes the
    result nan (a diverged model), rather than raising inside the training loop.

    >>> import numpy as np
    >>> m = AUC(); m.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> m.result()
    0.75
    """

    default_name = "auc"

    def reset_state(self):
        self._counter = None
        self._pending = []  # (classes, scores, weights) not yet counted
        self._nan = False

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, _, k, p = _classes(y_true, y_pred)
        w = _weights(sample_weight, t.shape[0])
        if self._counter is None:
            self._counter = _PairCounter(p.shape[1])
        elif self._counter.k != p.shape[1]:
            raise ValueError(
                f"Expected y_pred with {self._counter.k} columns as in earlier batches, "
                f"received: y_pred.shape={p.shape}"
            )
        if t.shape[0] == 0:
            return
        scores = np.array(p, dtype=np.float64)  # a copy: callers reuse their buffers
        if np.isnan(scores).any():
            self._nan = True
        w = np.ones(t.shape[0]) if w is None else w.copy()
        self._pending.append((t.copy(), scores, w))

    def _flush(self):
        if not self._pending:
            return
        t, p, w = (np.concatenate(parts) for parts in zip(*self._pending))
        self._pending = []
        if self._nan:
            return
        positive = (t == 1)[:, None] if p.shape[1] == 1 else t[:, None] == np.arange(p.shape[1])
        self._counter.add(p, positive, w)

    def result(self):
        if self._counter is None:
            return 0.0
        self._flush()
        if self._nan:
            return float("nan")
        aucs = self._counter.auc()
        aucs = aucs[~np.isnan(aucs)]
        return float(aucs.mean()) if aucs.size else float("nan")


class _MeanError(Metric):
    """Weighted mean over samples of the per-sample mean over outputs of ``_err(t - p)``."""

    def reset_state(self):
        self._sum = 0.0
        self._total = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _values(y_true, y_pred)
        w = _weights(sample_weight, t.shape[0])
        if t.size == 0:
            return
        per_sample = self._err(np.subtract(t, p, dtype=np.float64)).mean(axis=1)
        self._sum += float(per_sample.sum()) if w is None else float(per_sample @ w)
        self._total += float(t.shape[0]) if w is None else float(w.sum())

    def result(self):
        return self._sum / self._total if self._total else 0.0


class MeanAbsoluteError(_MeanError):
    """Mean of ``|y_true - y_pred|`` over samples and outputs.

    >>> import numpy as np
    >>> m = MeanAbsoluteError(); m.update_state(np.array([1.0, 2.0]), np.array([1.5, 1.0])); m.result()
    0.75
    """

    default_name = "mae"

    @staticmethod
    def _err(e):
        return np.abs(e)


class MeanSquaredError(_MeanError):
    """Mean of ``(y_true - y_pred)²`` over samples and outputs.

    >>> import numpy as np
    >>> m = MeanSquaredError(); m.update_state(np.array([1.0, 2.0]), np.array([1.5, 1.0])); m.result()
    0.625
    """

    default_name = "mse"

    @staticmethod
    def _err(e):
        return np.square(e)


class MeanMetricWrapper(Metric):
    """Streams any ``fn(y_true, y_pred) -> float``: the batch values averaged, weighted by size.

    >>> import numpy as np
    >>> m = MeanMetricWrapper(lambda t, p: float(np.max(np.abs(t - p))), name="max_err")
    >>> m.update_state(np.array([1.0]), np.array([2.0])); m.result()
    1.0
    """

    def __init__(self, fn, name=None):
        if not callable(fn):
            raise TypeError(f"Expected fn to be callable, received: fn={fn!r}")
        self.fn = fn
        super().__init__(getattr(fn, "__name__", "metric") if name is None else name)

    def reset_state(self):
        self._sum = 0.0
        self._total = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        n = len(y_pred)
        w = _weights(sample_weight, n)
        size = float(n) if w is None else float(w.sum())
        if n:
            self._sum += float(self.fn(y_true, y_pred)) * size
            self._total += size

    def result(self):
        return self._sum / self._total if self._total else 0.0


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy, "precision": Precision, "recall": Recall, "f1": F1,
    "auc": AUC, "mae": MeanAbsoluteError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mean_squared_error": MeanSquaredError,
}


def get(identifier):
    """A fresh streaming metric from a name (``accuracy``/``acc``, ``precision``, ``recall``,
    ``f1``, ``auc``, ``mae``, ``mse``), a :class:`Metric` (returned as is) or a callable
    ``fn(y_true, y_pred) -> float`` (wrapped in :class:`MeanMetricWrapper`).

    The metric's ``name`` is the name given (``get("acc").name == "acc"``, as Keras logs it).

    >>> get("f1")
    F1(name='f1')
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Expected a metric name in {sorted(_BY_NAME)}, received: {identifier!r}"
            )
        return cls(name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"Expected a metric name, Metric or callable, received: {identifier!r}")


# --------------------------------------------------------------------------- plain functions

def _compute(cls, y_true, y_pred, sample_weight):
    if np.shape(y_pred)[:1] == (0,):
        raise ValueError("Expected at least one sample, received: an empty y_pred")
    m = cls()
    m.update_state(y_true, y_pred, sample_weight)
    return m.result()


def accuracy(y_true, y_pred, sample_weight=None):
    """Fraction of correctly classified samples (see the module rules for ``k``).

    Parameters
    ----------
    y_true : ndarray of shape (n,) or (n, k)
        Integer labels, one-hot rows, or 0/1 values for a single output.
    y_pred : ndarray of shape (n, k) or (n,)
        Predicted probabilities (or scores).
    sample_weight : ndarray of shape (n,), optional
        Non-negative weights. Defaults to None (all ones).

    Returns
    -------
    float

    >>> import numpy as np
    >>> accuracy(np.array([1, 0]), np.array([[0.9], [0.7]]))
    0.5
    """
    return _compute(Accuracy, y_true, y_pred, sample_weight)


def precision(y_true, y_pred, sample_weight=None):
    """``tp / (tp + fp)`` (binary) or its macro average over classes (``k > 1``).

    >>> import numpy as np
    >>> precision(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.1]))
    0.5
    """
    return _compute(Precision, y_true, y_pred, sample_weight)


def recall(y_true, y_pred, sample_weight=None):
    """``tp / (tp + fn)`` (binary) or its macro average over classes (``k > 1``).

    >>> import numpy as np
    >>> recall(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.1]))
    0.5
    """
    return _compute(Recall, y_true, y_pred, sample_weight)


def f1(y_true, y_pred, sample_weight=None):
    """``2·tp / (2·tp + fp + fn)`` (binary) or the macro average of per-class F1 (``k > 1``).

    >>> import numpy as np
    >>> f1(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.1]))
    0.5
    """
    return _compute(F1, y_true, y_pred, sample_weight)


def auc(y_true, y_pred, sample_weight=None):
    """Exact area under the ROC curve (binary) or its one-vs-rest macro average (``k > 1``).

    ``nan`` when ``y_true`` holds a single class.

    >>> import numpy as np
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    return _compute(AUC, y_true, y_pred, sample_weight)


def mae(y_true, y_pred, sample_weight=None):
    """Mean absolute error over samples and outputs.

    >>> import numpy as np
    >>> mae(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
    0.75
    """
    return _compute(MeanAbsoluteError, y_true, y_pred, sample_weight)


def mse(y_true, y_pred, sample_weight=None):
    """Mean squared error over samples and outputs.

    >>> import numpy as np
    >>> mse(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
    0.625
    """
    return _compute(MeanSquaredError, y_true, y_pred, sample_weight)
