"""Losses by object and by name; every loss is a mean (over the batch, and over outputs for
mse/mae/huber), weighted per sample like Keras's ``sum_over_batch_size``: ``Σ wᵢ·lᵢ / n``.

Cross-entropies are computed from logits whenever they can be: a model whose last activation
is softmax (sigmoid) and whose loss is categorical (binary) cross-entropy makes its last layer
emit logits during training, and the fused kernel returns the loss and ``dlogits = (p − y)/n``
directly. ``from_logits=True`` takes the outputs as logits with the same kernels; otherwise the
outputs are taken as probabilities (``cross_entropy_from_probs``, ``binary_cross_entropy``).

>>> import numpy as np, nnfast as nf
>>> loss = nf.losses.get("mse")
>>> loss(np.array([[1.0], [2.0]]), np.array([[1.0], [4.0]]))
2.0
"""

import numbers

import numpy as np

from nnfast import kernels as K
from nnfast._ops import _validate as v

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "get", "serialize",
    "deserialize", "NAMES",
]

# Loss modes, resolved by the model from the loss and the output activation:
LOGITS, FUSED, PROBS, VALUES = "logits", "fused", "probs", "values"


def _smoothing(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"Expected label_smoothing in [0, 1], received: label_smoothing={value!r}")
    return float(value)


def _bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Expected {name} to be a bool, received: {name}={value!r}")
    return bool(value)


def _dense_targets(y, n_out, dtype, name, kind, bounded=False):
    """Float targets of shape (n, n_out); ``(n,)`` accepted when ``n_out == 1``.

    Checked finite, unless ``bounded`` (the caller checks a range, which NaN and inf fail, and
    names the error itself) or they were integers (always finite as floats).
    """
    y = np.asarray(y)
    if y.dtype.kind not in "iufb":
        raise TypeError(f"Expected {name} to hold numbers, received: {name} with dtype {y.dtype}")
    if y.ndim == 1 and n_out == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != n_out:
        hint = " (use sparse_categorical_crossentropy for integer labels)" if kind == "one-hot" else ""
        raise ValueError(
            f"Expected {name} of shape (n, {n_out}) ({kind} targets for {n_out} outputs){hint}, "
            f"received: {name}.shape={y.shape}"
        )
    exact = y.dtype.kind != "f"
    y = np.ascontiguousarray(y, dtype=dtype)
    if not (exact or bounded) and not v.all_finite(y, threads=1):  # (one pass, no temporary)
        raise v.not_finite(name)
    return y


class Loss:
    """Base class. ``loss(y_true, y_pred, sample_weight=None) -> float`` on model outputs.

    Subclasses say which targets they take (:meth:`prepare_targets`) and how to compute the
    loss and its gradient with the kernels (:meth:`compute`).
    """

    name = "loss"
    fusable = None  # output activation a cross-entropy fuses ("softmax"/"sigmoid")

    def mode(self, output_activation):
        """How :meth:`compute` reads the model output, given the last activation's name."""
        return VALUES

    def prepare_targets(self, y, n_out, dtype, mode, name="y"):
        """``(loss_targets, metric_targets)`` validated and converted for the whole data set."""
        t = _dense_targets(y, n_out, dtype, name, "value")
        return t, t

    def compute(self, output, targets, sample_weight, out, mode):
        """``(mean loss, dL/doutput)`` with the gradient written into ``out``."""
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(np.float64)
        if y_pred.ndim == 1:
            y_pred = y_pred.reshape(-1, 1)
        v.ndim(y_pred, "y_pred", 2)
        mode = LOGITS if getattr(self, "from_logits", False) else self.mode(None)
        targets, _ = self.prepare_targets(y_true, y_pred.shape[1], y_pred.dtype, mode, "y_true")
        if targets.shape[0] != y_pred.shape[0]:
            raise ValueError(f"Expected y_true and y_pred with the same number of rows, received: "
                             f"{targets.shape[0]} and {y_pred.shape[0]}")
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=y_pred.dtype)
        loss, _ = self.compute(np.ascontiguousarray(y_pred), targets, sample_weight, None, mode)
        return float(loss)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """``mean((y_pred − y_true)²)`` over samples and outputs.

    >>> import numpy as np, nnfast as nf
    >>> nf.losses.MeanSquaredError()(np.zeros((1, 2)), np.ones((1, 2)))
    1.0
    """

    name = "mse"

    def compute(self, output, targets, sample_weight, out, mode):
        return K.mse_loss(output, targets, sample_weight=sample_weight, out=out)


class MeanAbsoluteError(Loss):
    """``mean(|y_pred − y_true|)`` over samples and outputs.

    >>> import numpy as np, nnfast as nf
    >>> nf.losses.MeanAbsoluteError()(np.zeros((1, 2)), np.array([[1.0, -3.0]]))
    2.0
    """

    name = "mae"

    def compute(self, output, targets, sample_weight, out, mode):
        return K.mae_loss(output, targets, sample_weight=sample_weight, out=out)


class Huber(Loss):
    """Huber loss: ``½e²`` where ``|e| ≤ delta``, ``delta·(|e| − ½delta)`` beyond; mean.

    Parameters
    ----------
    delta : float
        Positive. Defaults to 1.0.

    >>> import numpy as np, nnfast as nf
    >>> nf.losses.Huber()(np.zeros((1, 2)), np.array([[0.5, 3.0]]))
    1.3125
    """

    name = "huber"

    def __init__(self, delta=1.0):
        self.delta = v.real_scalar(delta, "delta", low=0.0, low_open=True)

    def compute(self, output, targets, sample_weight, out, mode):
        return K.huber_loss(output, targets, delta=self.delta, sample_weight=sample_weight, out=out)

    def get_config(self):
        return {"delta": self.delta}


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of 0/1 targets; the sigmoid is fused when the model ends in one.

    Parameters
    ----------
    from_logits : bool
        Take the outputs as logits. Defaults to False (probabilities).
    label_smoothing : float
        In [0, 1]: targets become ``y·(1 − s) + s/2``. Defaults to 0.0.

    >>> import numpy as np, nnfast as nf
    >>> round(nf.losses.BinaryCrossentropy(from_logits=True)(np.array([1.0]), np.array([0.0])), 6)
    0.693147
    """

    name = "binary_crossentropy"
    fusable = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0):
        self.from_logits = _bool(from_logits, "from_logits")
        self.label_smoothing = _smoothing(label_smoothing)

    def mode(self, output_activation):
        if self.from_logits:
            return LOGITS
        return FUSED if output_activation == self.fusable else PROBS

    def prepare_targets(self, y, n_out, dtype, mode, name="y"):
        t = _dense_targets(y, n_out, dtype, name, "0/1", bounded=True)
        if not v.all_within(t, 0.0, 1.0):
            if not v.all_finite(t, threads=1):
                raise v.not_finite(name)
            raise ValueError(f"Expected {name} in [0, 1] for binary_crossentropy, received: values "
                             f"from {t.min()} to {t.max()}")
        return t, t

    def compute(self, output, targets, sample_weight, out, mode):
        if mode == PROBS:
            return K.binary_cross_entropy(output, targets, label_smoothing=self.label_smoothing,
                                          sample_weight=sample_weight, out=out)
        return K.sigmoid_cross_entropy(output, targets, label_smoothing=self.label_smoothing,
                                       sample_weight=sample_weight, out=out)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(BinaryCrossentropy):
    """Cross-entropy of one-hot (or soft) targets; the softmax is fused when the model ends in one.

    Parameters
    ----------
    from_logits : bool
        Take the outputs as logits. Defaults to False (probabilities).
    label_smoothing : float
        In [0, 1]: targets become ``y·(1 − s) + s/k``. Defaults to 0.0.

    >>> import numpy as np, nnfast as nf
    >>> round(nf.losses.CategoricalCrossentropy()(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])), 6)
    0.693147
    """

    name = "categorical_crossentropy"
    fusable = "softmax"

    def prepare_targets(self, y, n_out, dtype, mode, name="y"):
        t = _dense_targets(y, n_out, dtype, name, "one-hot")
        if mode == PROBS and self.label_smoothing:
            return t * (1.0 - self.label_smoothing) + self.label_smoothing / n_out, t
        return t, t

    def compute(self, output, targets, sample_weight, out, mode):
        if mode == PROBS:
            return K.cross_entropy_from_probs(output, targets, sample_weight=sample_weight, out=out)
        return K.categorical_cross_entropy(output, targets, label_smoothing=self.label_smoothing,
                                           sample_weight=sample_weight, out=out)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Cross-entropy of integer class labels ``(n,)`` in ``[0, k)``; softmax fused as above.

    Parameters
    ----------
    from_logits : bool
        Take the outputs as logits. Defaults to False (probabilities).

    >>> import numpy as np, nnfast as nf
    >>> round(nf.losses.SparseCategoricalCrossentropy()(np.array([1]), np.array([[0.5, 0.5]])), 6)
    0.693147
    """

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False):
        super().__init__(from_logits=from_logits)

    def prepare_targets(self, y, n_out, dtype, mode, name="y"):
        y = np.asarray(y)
        if y.dtype.kind == "f" and y.size and not np.isfinite(y).all():
            raise v.not_finite(name)
        if y.dtype.kind == "b" or y.dtype.kind not in "iuf":
            raise TypeError(f"Expected {name} to hold integer class labels, received: {name} with "
                            f"dtype {y.dtype}")
        labels = v.labels_array(y, name, y.shape[0] if y.ndim else -1, n_out)
        return labels, labels

    def compute(self, output, targets, sample_weight, out, mode):
        if mode == PROBS:
            return K.cross_entropy_from_probs(output, targets, sample_weight=sample_weight, out=out)
        return K.softmax_cross_entropy(output, targets, sample_weight=sample_weight, out=out)

    def get_config(self):
        return {"from_logits": self.from_logits}


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
NAMES = ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
         "sparse_categorical_crossentropy")
_CLASSES = {c.__name__: c for c in set(_BY_NAME.values())}


def get(identifier):
    """A :class:`Loss` from a name (see :data:`NAMES`) or a Loss object.

    Unknown names raise ValueError listing the valid ones.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Expected loss to be one of {', '.join(NAMES)} or a Loss object, "
                             f"received: loss={identifier!r}")
        return cls()
    raise TypeError(f"Expected loss to be a name or an nnfast.losses.Loss, received: loss={identifier!r}")


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"Expected a loss class among {sorted(_CLASSES)}, received: {config!r}")
    return _CLASSES[config["class_name"]].from_config(dict(config.get("config") or {}))
