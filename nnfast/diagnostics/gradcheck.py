"""Gradient check: the model's analytic gradients against central differences in float64.

The check runs on a float64 twin of the model (see :mod:`nnfast.diagnostics._common`), so a
float32 model is checked at float64 precision and the model itself is never touched. For each
trainable weight tensor a sample of entries ``w`` is perturbed and the loss (penalties
included, as :meth:`Sequential.compute_gradients` returns it) evaluated at ``w ± eps``:
``numeric = (L(w + eps) − L(w − eps)) / (2·eps)``.

Dropout makes the loss random. By default (``training=True``) every evaluation restarts the
twin's random generator from the same state, so each Dropout layer draws the same seed and
therefore the same mask every time: the loss is a deterministic function of the weights and the
check covers the training-mode backward pass (BatchNormalization with batch statistics
included). ``training=False`` checks the inference-mode function instead (Dropout the identity,
BatchNormalization with its moving statistics).

Relative error of an entry: ``|analytic − numeric| / max(|analytic|, |numeric|, floor)``, where
``floor`` (default 1e-6) keeps entries whose gradient is essentially zero from dividing rounding
noise by rounding noise. A tensor passes when its largest relative error is at most
``threshold`` (default 1e-4). Measured with the default ``eps=1e-5`` (near the optimal step,
the cube root of float64's epsilon): correct gradients of Dense / BatchNormalization /
LayerNormalization / Dropout nets give 1e-10 to 1e-7, a gradient scaled by 1.1 gives about
0.09. A ReLU kink crossed by ``w ± eps`` can fail an entry of a correct model, rarely.
"""

from dataclasses import dataclass, field

import numpy as np

from nnfast.diagnostics._common import (check_model, format_table, optional_int, real,
                                        trainable_tensors, twin)

__all__ = ["gradient_check", "GradientCheckResult", "GradientCheckRow"]


@dataclass
class GradientCheckRow:
    """The check of one weight tensor (``ok`` when ``max_rel_error <= threshold``)."""

    layer: str
    weight: str
    shape: tuple
    checked: int
    max_abs_error: float
    max_rel_error: float
    ok: bool


@dataclass
class GradientCheckResult:
    """Rows per weight tensor, the threshold used and the loss at the checked point.

    ``ok`` is True when every tensor passed; ``str(result)`` is a table.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> X = np.random.default_rng(0).normal(size=(8, 3)); y = np.arange(8) % 2
    >>> model = nf.Sequential([nf.layers.Dense(4, activation="tanh"),
    ...                        nf.layers.Dense(2, activation="softmax")], input_dim=3, seed=0)
    >>> model.compile("sgd", "sparse_categorical_crossentropy")
    >>> result = nf.diagnostics.gradient_check(model, X, y)
    >>> result.ok, [(r.layer, r.weight) for r in result.rows][:2]
    (True, [('dense', 'kernel'), ('dense', 'bias')])
    """

    rows: list = field(default_factory=list)
    threshold: float = 1e-4
    eps: float = 1e-5
    loss: float = float("nan")

    @property
    def ok(self):
        return all(r.ok for r in self.rows)

    @property
    def max_rel_error(self):
        return max((r.max_rel_error for r in self.rows), default=0.0)

    def failed(self):
        """The rows that did not pass."""
        return [r for r in self.rows if not r.ok]

    def __str__(self):
        rows = [(r.layer, r.weight, r.shape, r.checked, r.max_abs_error, r.max_rel_error,
                 "ok" if r.ok else "FAIL") for r in self.rows]
        verdict = "passed" if self.ok else f"FAILED ({len(self.failed())} tensors)"
        title = (f"Gradient check {verdict}: threshold {self.threshold:g} on the relative error, "
                 f"eps {self.eps:g}, loss {self.loss:.6g}")
        return format_table(["layer", "weight", "shape", "checked", "max abs err",
                             "max rel err", ""], rows, title)


def _entries(size, sample, rng):
    if sample is None or sample >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=sample, replace=False))


def gradient_check(model, X, y, *, eps=1e-5, sample=20, threshold=1e-4, floor=1e-6,
                   sample_weight=None, training=True, seed=0):
    """Compare the analytic gradient of every trainable tensor with central differences.

    Parameters
    ----------
    model : Sequential
        Built (or with ``input_dim``) and compiled. Not modified.
    X : array-like of shape (n, d)
        A small batch (the loss is evaluated ``2 × checked entries`` times on all of it).
    y : array-like
        Targets, as for ``fit``.
    eps : float
        The finite-difference step. Defaults to 1e-5.
    sample : int, optional
        Entries checked per tensor, drawn without replacement (seeded by ``seed``); None
        checks every entry. Defaults to 20.
    threshold : float
        Largest relative error a tensor may have and pass. Defaults to 1e-4.
    floor : float
        Smallest denominator of the relative error. Defaults to 1e-6.
    sample_weight : array-like of shape (n,), optional
    training : bool
        Check the training-mode loss with fixed Dropout masks (True) or the inference-mode
        loss (False). Defaults to True.
    seed : int
        Chooses the sampled entries. Defaults to 0.

    Returns
    -------
    GradientCheckResult
    """
    check_model(model, "gradient_check")
    eps = real(eps, "eps", low=0.0, low_open=True)
    threshold = real(threshold, "threshold", low=0.0, low_open=True)
    floor = real(floor, "floor", low=0.0, low_open=True)
    sample = optional_int(sample, "sample")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"Expected training to be a bool, received: training={training!r}")
    rng = np.random.default_rng(optional_int(seed, "seed", low=0))
    check = twin(model, np.float64)
    X, T, _, W = check._data(X, y, sample_weight)
    start = check._rng.bit_generator.state

    def loss_and_grads():
        check._rng.bit_generator.state = start  # same Dropout masks at every evaluation
        return check.compute_gradients(X, T, sample_weight=W, training=bool(training))

    loss, grads = loss_and_grads()
    result = GradientCheckResult(threshold=threshold, eps=eps, loss=loss)
    for (layer, name, view), grad in zip(trainable_tensors(check), grads):
        flat, analytic = view.reshape(-1), grad.reshape(-1)
        idx = _entries(flat.size, sample, rng)
        numeric = np.empty(idx.size)
        for k, i in enumerate(idx):
            old = flat[i]
            flat[i] = old + eps
            plus = loss_and_grads()[0]
            flat[i] = old - eps
            minus = loss_and_grads()[0]
            flat[i] = old
            numeric[k] = (plus - minus) / (2.0 * eps)
        a = analytic[idx]
        err = np.abs(a - numeric)
        rel = err / np.maximum(np.maximum(np.abs(a), np.abs(numeric)), floor)
        max_rel = float(rel.max()) if rel.size else 0.0
        result.rows.append(GradientCheckRow(layer, name, tuple(view.shape), int(idx.size),
                                            float(err.max()) if err.size else 0.0, max_rel,
                                            bool(max_rel <= threshold)))
    return result
