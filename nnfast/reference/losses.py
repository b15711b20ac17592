"""NumPy twins of the fused losses: the readable specification of ``nnfast.kernels``' losses.

Each returns ``(loss, grad)``: ``loss`` is a Python float, the mean over the batch (and over the
outputs for elementwise losses) of the per-sample losses weighted by ``sample_weight``, divided
by the *unweighted* count (Keras' "sum_over_batch_size"); ``grad`` is d(loss)/d(input) in the
input's dtype (or written into ``out``). Everything is computed in float64. An empty batch gives
``loss = nan`` and an empty gradient.
"""

import numpy as np

__all__ = [
    "softmax_cross_entropy",
    "categorical_cross_entropy",
    "cross_entropy_from_probs",
    "sigmoid_cross_entropy",
    "binary_cross_entropy",
    "mse_loss",
    "mae_loss",
    "huber_loss",
]


def _weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    return np.asarray(sample_weight, np.float64).reshape(n)


def _finish(loss_terms, grad, dtype, out):
    """Mean of ``loss_terms`` (nan when empty) and the gradient as ``dtype`` or into ``out``."""
    loss = float(np.sum(loss_terms) / loss_terms.size) if loss_terms.size else float("nan")
    if out is None:
        return loss, grad.astype(dtype)
    out[...] = grad
    return loss, out


def _xlogy(t, logp):
    """``t * logp`` with ``0 * log(0) = 0``: a class with zero target weight adds nothing, even
    when its log-probability is -inf (a -inf logit, or a probability clipped at epsilon=0)."""
    return np.where(t == 0, 0.0, t * logp)


def _log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def _per_row(w, x):
    """Sample weights broadcast over the rows of ``x`` (1-D: one output per sample)."""
    return w if x.ndim == 1 else w[:, None]


def softmax_cross_entropy(logits, labels, *, label_smoothing=0.0, sample_weight=None, out=None):
    """Softmax cross-entropy with integer labels: the mean of ``-sum_j t_ij log_softmax(z)_ij``.

    ``t = (1 - label_smoothing) onehot(labels) + label_smoothing / c``.
    """
    z = np.asarray(logits, np.float64)
    n, c = z.shape
    onehot = np.zeros((n, c))
    onehot[np.arange(n), np.asarray(labels).reshape(n).astype(np.intp)] = 1.0
    return _softmax_xent(z, onehot, label_smoothing, sample_weight, np.asarray(logits).dtype, out)


def categorical_cross_entropy(logits, targets, *, label_smoothing=0.0, sample_weight=None,
                              out=None):
    """Softmax cross-entropy with dense (one-hot or soft) target rows."""
    z = np.asarray(logits, np.float64)
    t = np.asarray(targets, np.float64)
    return _softmax_xent(z, t, label_smoothing, sample_weight, np.asarray(logits).dtype, out)


def _softmax_xent(z, targets, label_smoothing, sample_weight, dtype, out):
    n, c = z.shape
    t = targets * (1.0 - label_smoothing) + label_smoothing / c
    w = _weights(sample_weight, n)
    logp = _log_softmax(z) if n else z
    per_sample = -_xlogy(t, logp).sum(axis=1)
    grad = w[:, None] * (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / max(n, 1)
    return _finish(w * per_sample, grad, dtype, out)


def cross_entropy_from_probs(probs, targets, *, sample_weight=None, epsilon=1e-7, out=None):
    """Cross-entropy of probabilities clipped to ``[epsilon, 1 - epsilon]`` (Keras).

    ``targets`` are integer labels (n,) (or a column (n, 1), c > 1) or dense rows (n, c). The
    gradient ``-t / p`` is zero where the probability was clipped.
    """
    dtype = np.asarray(probs).dtype
    p = np.asarray(probs, np.float64)
    n, c = p.shape
    t = np.asarray(targets)
    dense = t.ndim == 2 and (t.shape[1] != 1 or (t.shape == p.shape and t.dtype.kind == "f"))
    if not dense:  # integer labels
        y = t.reshape(n).astype(np.intp)
        t = np.zeros((n, c))
        t[np.arange(n), y] = 1.0
    t = np.asarray(t, np.float64)
    w = _weights(sample_weight, n)
    pc = np.clip(p, epsilon, 1.0 - epsilon)
    with np.errstate(divide="ignore"):
        per_sample = -_xlogy(t, np.log(pc)).sum(axis=1)
    inside = ~((p < epsilon) | (p > 1.0 - epsilon))  # nan is not clipped: it propagates
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = np.where(inside & (t != 0), -t / p, 0.0) * w[:, None] / max(n, 1)
    return _finish(w * per_sample, grad, dtype, out)


def _smooth_binary(targets, shape, label_smoothing):
    t = np.asarray(targets, np.float64).reshape(shape)
    return t * (1.0 - label_smoothing) + 0.5 * label_smoothing


def sigmoid_cross_entropy(logits, targets, *, label_smoothing=0.0, sample_weight=None, out=None):
    """Binary cross-entropy of logits, elementwise: ``max(x, 0) - x t + log1p(exp(-|x|))``."""
    dtype = np.asarray(logits).dtype
    x = np.asarray(logits, np.float64)
    t = _smooth_binary(targets, x.shape, label_smoothing)
    w = _per_row(_weights(sample_weight, x.shape[0]), x)
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1.0, e) / (1.0 + e)
    terms = np.maximum(x, 0.0) - x * t + np.log1p(e)
    grad = w * (sigmoid - t) / max(x.size, 1)
    return _finish(w * terms, grad, dtype, out)


def binary_cross_entropy(probs, targets, *, label_smoothing=0.0, sample_weight=None,
                         epsilon=1e-7, out=None):
    """Binary cross-entropy of probabilities clipped to ``[epsilon, 1 - epsilon]`` (Keras)."""
    dtype = np.asarray(probs).dtype
    p = np.asarray(probs, np.float64)
    t = _smooth_binary(targets, p.shape, label_smoothing)
    w = _per_row(_weights(sample_weight, p.shape[0]), p)
    pc = np.clip(p, epsilon, 1.0 - epsilon)
    with np.errstate(divide="ignore"):
        terms = -(_xlogy(t, np.log(pc)) + _xlogy(1.0 - t, np.log(1.0 - pc)))
    inside = ~((p < epsilon) | (p > 1.0 - epsilon))  # nan is not clipped: it propagates
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = np.where(inside, (p - t) / (p * (1.0 - p)), 0.0) * w / max(p.size, 1)
    return _finish(w * terms, grad, dtype, out)


def _residual(pred, target):
    dtype = np.asarray(pred).dtype
    p = np.asarray(pred, np.float64)
    r = p - np.asarray(target, np.float64).reshape(p.shape)
    return dtype, p, r


def mse_loss(pred, target, *, sample_weight=None, out=None):
    """Mean squared error ``mean(w (p - t)**2)``."""
    dtype, p, r = _residual(pred, target)
    w = _per_row(_weights(sample_weight, p.shape[0]), p)
    return _finish(w * r * r, 2.0 * r * w / max(p.size, 1), dtype, out)


def mae_loss(pred, target, *, sample_weight=None, out=None):
    """Mean absolute error ``mean(w |p - t|)``; the gradient at 0 is 0."""
    dtype, p, r = _residual(pred, target)
    w = _per_row(_weights(sample_weight, p.shape[0]), p)
    return _finish(w * np.abs(r), np.sign(r) * w / max(p.size, 1), dtype, out)


def huber_loss(pred, target, *, delta=1.0, sample_weight=None, out=None):
    """Huber loss: ``r**2 / 2`` where ``|r| <= delta``, else ``delta (|r| - delta / 2)``."""
    dtype, p, r = _residual(pred, target)
    w = _per_row(_weights(sample_weight, p.shape[0]), p)
    a = np.abs(r)
    terms = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    return _finish(w * terms, np.clip(r, -delta, delta) * w / max(p.size, 1), dtype, out)
