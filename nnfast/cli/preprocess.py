"""What ``nnfast train`` learns from the data besides weights, and ``predict`` applies again.

The task (classification or regression, detected from the target column), the class labels,
and standardization (subtract the training mean, divide by the training standard deviation) of
the features and of a regression target. Everything here is plain JSON so that it travels in
the model file's ``metadata``.

>>> import numpy as np
>>> scaler = fit_scaler(np.array([[1.0, 10.0], [3.0, 10.0]]))
>>> scaler
{'mean': [2.0, 10.0], 'scale': [1.0, 1.0]}
>>> apply_scaler(np.array([[3.0, 12.0]]), scaler).tolist()
[[1.0, 2.0]]
"""

import numpy as np

from nnfast.cli import UsageError

__all__ = ["MAX_AUTO_CLASSES", "fit_scaler", "apply_scaler", "detect_task", "encode_labels"]

#: An integer target with at most this many distinct values is auto-detected as classes.
MAX_AUTO_CLASSES = 20


def fit_scaler(X):
    """Mean and standard deviation per column of ``X`` (a constant column gets scale 1)."""
    X = np.asarray(X, dtype=np.float64)
    X = X.reshape(len(X), -1)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
    return {"mean": mean.tolist(), "scale": scale.tolist()}


def apply_scaler(X, scaler, dtype=np.float64):
    """``(X - mean) / scale`` with the statistics of :func:`fit_scaler`, as ``dtype``."""
    X = np.asarray(X, dtype=np.float64)
    return ((X - np.asarray(scaler["mean"])) / np.asarray(scaler["scale"])).astype(dtype)


def detect_task(numeric):
    """``(task, reason)`` for a target column: ``numeric`` is its float64 values or None (strings).

    Strings are class labels; integer values with at most :data:`MAX_AUTO_CLASSES` distinct
    values are classes; any other numbers are a regression target.

    >>> import numpy as np
    >>> detect_task(np.array([0.0, 1.0, 1.0]))
    ('classification', 'integer target with 2 distinct values')
    >>> detect_task(np.array([0.5, 1.0, 2.0]))[0]
    'regression'
    """
    if numeric is None:
        return "classification", "string labels"
    distinct = np.unique(numeric)
    if np.all(distinct == np.round(distinct)):
        if len(distinct) <= MAX_AUTO_CLASSES:
            return "classification", f"integer target with {len(distinct)} distinct values"
        return "regression", (f"integer target with {len(distinct)} distinct values "
                              f"(more than {MAX_AUTO_CLASSES})")
    return "regression", "non-integer numbers"


def encode_labels(labels):
    """``(codes, classes)``: ``labels`` as ints 0..k-1 and the sorted distinct labels as JSON values.

    >>> import numpy as np
    >>> encode_labels(np.array(["dog", "cat", "dog"]))
    (array([1, 0, 1]), ['cat', 'dog'])
    >>> encode_labels(np.array([2.0, 5.0, 2.0]))[1]
    [2, 5]
    """
    classes, codes = np.unique(labels, return_inverse=True)
    if classes.dtype.kind in "US":
        values = [str(c) for c in classes]
    elif np.all(classes == np.round(classes)):
        values = [int(c) for c in classes]
    else:
        values = [float(c) for c in classes]
    if len(values) < 2:
        raise UsageError("classification needs at least 2 classes in the target, received: "
                         f"only 1 class ({values[0]!r})")
    return codes.astype(np.intp).reshape(-1), values
