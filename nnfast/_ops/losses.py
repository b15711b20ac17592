"""Validated fused losses: each returns ``(loss, grad)`` from one compiled pass.

``loss`` is a Python float: the mean over the batch (and over the outputs for elementwise
losses) of the per-sample losses, each multiplied by its ``sample_weight`` when given (a float
array of the inputs' dtype, or integers or a list) and
divided by the *unweighted* count (Keras' "sum_over_batch_size"); it is accumulated in double.
``grad`` is d(loss)/d(input), a new array of the input's dtype, or written into ``out=``, which
may be the input array itself (in place). An empty batch gives ``loss = nan`` and an empty grad.
"""

import numpy as np

from nnfast import _threads
from nnfast._kernels import losses as _k
from nnfast._ops import _validate as v

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


# ------------------------------------------------------------------------------------------
# Argument checks shared by the losses
# ------------------------------------------------------------------------------------------

def _sample_weight(sample_weight, n, dtype):
    """``sample_weight`` as a C-contiguous (n,) array of ``dtype``, or None.

    A float ndarray must have the inputs' dtype (as every array argument of nnf.kernels); an
    integer array or a list is converted (exactly, as the labels are).
    """
    if sample_weight is None:
        return None
    if (isinstance(sample_weight, np.ndarray) and sample_weight.dtype.kind == "f"
            and sample_weight.dtype != dtype):
        raise TypeError("Expected all arrays to share one float dtype, received: "
                        f"inputs of {np.dtype(dtype).name}, sample_weight of "
                        f"{sample_weight.dtype.name}")
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "fiu":
        raise TypeError(
            "Expected sample_weight to be an array of real numbers, received: "
            f"sample_weight with dtype {w.dtype}"
        )
    if w.shape != (n,):
        raise ValueError(f"Expected sample_weight of shape ({n},), received: sample_weight.shape={w.shape}")
    return np.ascontiguousarray(w, dtype=dtype)


def _smoothing(label_smoothing):
    if type(label_smoothing) is float and 0.0 <= label_smoothing <= 1.0:  # the common case, fast
        return label_smoothing
    return v.real_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0)


def _float_pair(op, a, a_name, b, b_name):
    """``(a, b, dtype)``: two float arrays of one dtype (fast path for matching ndarrays)."""
    if (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and a.dtype in v.FLOAT_DTYPES):
        return a, b, a.dtype
    (a, b), dtype = v.floats(op, **{a_name: a, b_name: b})
    return a, b, dtype


def _labels(labels, name, n, n_classes):
    """Integer labels (n,) in ``[0, n_classes)`` as a C-contiguous intp array.

    A contiguous intp array (the usual case) is range-checked in one compiled pass; anything
    else goes through ``_validate.labels_array`` (conversions, dtype and shape errors).
    """
    if (isinstance(labels, np.ndarray) and labels.dtype == np.intp and labels.shape == (n,)
            and labels.flags.c_contiguous):
        bad = _k.first_bad_label(labels, n_classes) if n else -1
        if bad >= 0:
            raise ValueError(f"Expected {name} in [0, {n_classes}), received: a label {int(labels[bad])}")
        return labels
    return v.labels_array(labels, name, n, n_classes)


def _clip_epsilon(epsilon):
    return v.real_scalar(epsilon, "epsilon", low=0.0, high=0.5, high_open=True)


def _logit_rows(op, logits, name="logits"):
    """The (n, c) float input of a row loss, with at least one column."""
    x, dtype = v.float_input(op, logits, name)
    v.ndim(x, name, 2)
    if x.shape[1] == 0:
        raise ValueError(f"Expected {name} with at least one column (class), received: {name}.shape={x.shape}")
    return x, dtype


def _dense_rows(op, x, x_name, targets, t_name):
    """Dense (n, c) targets of the same shape and dtype as ``x``."""
    t = targets if isinstance(targets, np.ndarray) else np.asarray(targets)
    v.same_shape(x, x_name, t, t_name)
    return _float_pair(op, x, x_name, t, t_name)[1]


def _elementwise_pair(op, pred, pred_name, target, target_name):
    """``(pred2d, target2d, shape)``: both as C-contiguous (n, k); targets may be (n,) for (n, 1).

    ``pred`` is 1-D (n,) or 2-D (n, k); ``target`` has its shape, or is the (n,) / (n, 1) twin
    of a single-output ``pred``.
    """
    p, t, dtype = _float_pair(op, pred, pred_name, target, target_name)
    v.ndim(p, pred_name, (1, 2))
    shape = p.shape
    single = p.ndim == 1 or p.shape[1] == 1
    ok = t.shape == shape or (single and t.shape in ((shape[0],), (shape[0], 1)))
    if not ok:
        raise ValueError(
            f"Expected {target_name} of the same shape as {pred_name} (or (n,) / (n, 1) for a "
            f"single output), received: {pred_name}.shape={shape}, {target_name}.shape={t.shape}"
        )
    n = shape[0]
    k = 1 if p.ndim == 1 else shape[1]
    return p, t, dtype, n, k


def _grad_out(out, shape, dtype, x, others):
    """The gradient array: ``out`` checked (it may be ``x`` itself), or a new one."""
    return v.out_array(out, shape, dtype, inputs=(x, *others), allow_inplace=(x,))


def _as2d(a, n, k):
    return v.contiguous(a).reshape(n, k)


def _mean(total, count):
    return float(total / count)


# ------------------------------------------------------------------------------------------
# Softmax cross-entropy (fused with a max-shifted softmax)
# ------------------------------------------------------------------------------------------

def softmax_cross_entropy(logits, labels, *, label_smoothing=0.0, sample_weight=None, out=None):
    """Mean softmax cross-entropy of integer labels, and its gradient, in one fused pass.

    ``t = (1 - label_smoothing) onehot(labels) + label_smoothing / c``;
    ``loss = sum_i w_i (-sum_j t_ij log_softmax(logits)_ij) / n``;
    ``dlogits = w_i (softmax(logits) - t) / n``.

    Parameters
    ----------
    logits : ndarray of shape (n, c)
        float32 or float64.
    labels : array-like of shape (n,)
        Integer classes in ``[0, c)`` (any integer dtype, or integer-valued floats).
    label_smoothing : float
        In ``[0, 1]``. Defaults to 0.0.
    sample_weight : array-like of shape (n,), optional
        Per-sample weights (converted to the logits' dtype). Defaults to None (all ones).
    out : ndarray of shape (n, c), optional
        Where to write ``dlogits``; may be ``logits`` itself (in place).

    Returns
    -------
    loss : float
        nan for an empty batch.
    dlogits : ndarray of shape (n, c)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> loss, grad = nf.kernels.softmax_cross_entropy(np.zeros((2, 4), np.float32), [0, 3])
    >>> round(loss, 6)  # log(4)
    1.386294
    >>> grad
    array([[-0.375,  0.125,  0.125,  0.125],
           [ 0.125,  0.125,  0.125, -0.375]], dtype=float32)
    """
    z, dtype = _logit_rows("softmax_cross_entropy", logits)
    n, c = z.shape
    y = _labels(labels, "labels", n, c)
    eps = _smoothing(label_smoothing)
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, z.shape, dtype, z, (w,))
    if n == 0:
        return float("nan"), g
    total = _k.softmax_xent(v.contiguous(z), y, w, eps, 1.0 / n, g, _threads.num_threads())
    return _mean(total, n), g


def categorical_cross_entropy(logits, targets, *, label_smoothing=0.0, sample_weight=None,
                              out=None):
    """Mean softmax cross-entropy of dense (one-hot or soft) targets, and its gradient.

    ``t' = (1 - label_smoothing) t + label_smoothing / c``;
    ``loss = sum_i w_i (-sum_j t'_ij log_softmax(logits)_ij) / n``;
    ``dlogits = w_i (softmax(logits) sum_j t'_ij - t') / n``.

    Parameters
    ----------
    logits : ndarray of shape (n, c)
    targets : ndarray of shape (n, c)
        Same dtype as ``logits``.
    label_smoothing : float
        In ``[0, 1]``. Defaults to 0.0.
    sample_weight : array-like of shape (n,), optional
    out : ndarray of shape (n, c), optional
        May be ``logits`` itself (in place).

    Returns
    -------
    loss : float
    dlogits : ndarray of shape (n, c)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> t = np.array([[0.5, 0.5]])
    >>> loss, grad = nf.kernels.categorical_cross_entropy(np.zeros((1, 2)), t)
    >>> round(loss, 6), grad
    (0.693147, array([[0., 0.]]))
    """
    z, dtype = _logit_rows("categorical_cross_entropy", logits)
    t = _dense_rows("categorical_cross_entropy", z, "logits", targets, "targets")
    n, c = z.shape
    eps = _smoothing(label_smoothing)
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, z.shape, dtype, z, (t, w))
    if n == 0:
        return float("nan"), g
    total = _k.categorical_xent(v.contiguous(z), v.contiguous(t), w, eps, 1.0 / n, g,
                                _threads.num_threads())
    return _mean(total, n), g


# ------------------------------------------------------------------------------------------
# Cross-entropy of probabilities (a model whose outputs are already a softmax or a sigmoid)
# ------------------------------------------------------------------------------------------

def cross_entropy_from_probs(probs, targets, *, sample_weight=None, epsilon=1e-7, out=None):
    """Mean cross-entropy of probabilities clipped to ``[epsilon, 1 - epsilon]`` (as Keras).

    ``loss = sum_i w_i (-sum_j t_ij log(clip(p_ij))) / n``; ``dprobs = -w_i t / p / n``, zero
    where ``p`` was clipped.

    Parameters
    ----------
    probs : ndarray of shape (n, c)
    targets : array-like of shape (n,) or ndarray of shape (n, c)
        Integer labels in ``[0, c)``, or dense target rows of the same dtype as ``probs``.
    sample_weight : array-like of shape (n,), optional
    epsilon : float
        Clipping bound, in ``[0, 0.5)``. Defaults to 1e-7.
    out : ndarray of shape (n, c), optional
        May be ``probs`` itself (in place).

    Returns
    -------
    loss : float
    dprobs : ndarray of shape (n, c)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> loss, grad = nf.kernels.cross_entropy_from_probs(np.array([[0.5, 0.5]]), [1])
    >>> round(loss, 6), grad
    (0.693147, array([[ 0., -2.]]))
    """
    p, dtype = v.float_input("cross_entropy_from_probs", probs, "probs")
    v.ndim(p, "probs", 2)
    n, c = p.shape
    clip = _clip_epsilon(epsilon)
    raw = targets if isinstance(targets, np.ndarray) else np.asarray(targets)
    dense = raw.ndim == 2 and (raw.shape[1] != 1 or (raw.shape == p.shape and raw.dtype.kind == "f"))
    if dense:
        t = _dense_rows("cross_entropy_from_probs", p, "probs", raw, "targets")
    else:
        t = _labels(raw, "targets", n, c)
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, p.shape, dtype, p, (t, w))
    if n == 0 or c == 0:
        return float("nan") if n == 0 else 0.0, g
    pc = v.contiguous(p)
    nthreads = _threads.num_threads()
    if dense:
        total = _k.probs_xent_dense(pc, v.contiguous(t), w, clip, 1.0 / n, g, nthreads)
    else:
        total = _k.probs_xent_sparse(pc, t, w, clip, 1.0 / n, g, nthreads)
    return _mean(total, n), g


def binary_cross_entropy(probs, targets, *, label_smoothing=0.0, sample_weight=None,
                         epsilon=1e-7, out=None):
    """Mean binary cross-entropy of probabilities clipped to ``[epsilon, 1 - epsilon]`` (Keras).

    ``t' = t (1 - label_smoothing) + label_smoothing / 2``;
    ``l = -(t' log(p) + (1 - t') log(1 - p))`` averaged over all n·k elements;
    ``dprobs = w (p - t') / (p (1 - p)) / (n k)``, zero where ``p`` was clipped.

    Parameters
    ----------
    probs : ndarray of shape (n,) or (n, k)
    targets : ndarray of the shape of ``probs`` (or (n,) when ``probs`` is (n, 1))
        Same dtype as ``probs``.
    label_smoothing : float
        In ``[0, 1]``. Defaults to 0.0.
    sample_weight : array-like of shape (n,), optional
    epsilon : float
        Clipping bound, in ``[0, 0.5)``. Defaults to 1e-7.
    out : ndarray of the shape of ``probs``, optional
        May be ``probs`` itself (in place).

    Returns
    -------
    loss : float
    dprobs : ndarray of the shape of ``probs``

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> loss, grad = nf.kernels.binary_cross_entropy(np.array([0.5, 0.8]), np.array([1.0, 1.0]))
    >>> round(loss, 6), grad
    (0.458145, array([-1.   , -0.625]))
    """
    p, t, dtype, n, k = _elementwise_pair("binary_cross_entropy", probs, "probs", targets, "targets")
    eps = _smoothing(label_smoothing)
    clip = _clip_epsilon(epsilon)
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, p.shape, dtype, p, (t, w))
    if n * k == 0:
        return float("nan"), g
    total = _k.binary_xent(_as2d(p, n, k), _as2d(t, n, k), w, eps, clip, 1.0 / (n * k),
                           g.reshape(n, k), _threads.num_threads())
    return _mean(total, n * k), g


# ------------------------------------------------------------------------------------------
# Elementwise losses of logits and regression outputs
# ------------------------------------------------------------------------------------------

def sigmoid_cross_entropy(logits, targets, *, label_smoothing=0.0, sample_weight=None, out=None):
    """Mean binary cross-entropy of logits (a fused, overflow-free sigmoid), elementwise.

    ``t' = t (1 - label_smoothing) + label_smoothing / 2``;
    ``l = max(x, 0) - x t' + log1p(exp(-|x|))`` averaged over all n·k elements;
    ``dlogits = w (sigmoid(x) - t') / (n k)``.

    Parameters
    ----------
    logits : ndarray of shape (n,) or (n, k)
    targets : ndarray of the shape of ``logits`` (or (n,) when ``logits`` is (n, 1))
        Same dtype as ``logits``; values in [0, 1].
    label_smoothing : float
        In ``[0, 1]``. Defaults to 0.0.
    sample_weight : array-like of shape (n,), optional
    out : ndarray of the shape of ``logits``, optional
        May be ``logits`` itself (in place).

    Returns
    -------
    loss : float
    dlogits : ndarray of the shape of ``logits``

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> loss, grad = nf.kernels.sigmoid_cross_entropy(np.zeros((2, 1)), np.array([0.0, 1.0]))
    >>> round(loss, 6), grad
    (0.693147, array([[ 0.25],
           [-0.25]]))
    """
    x, t, dtype, n, k = _elementwise_pair("sigmoid_cross_entropy", logits, "logits", targets, "targets")
    eps = _smoothing(label_smoothing)
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, x.shape, dtype, x, (t, w))
    if n * k == 0:
        return float("nan"), g
    total = _k.sigmoid_xent(_as2d(x, n, k), _as2d(t, n, k), w, eps, 1.0 / (n * k),
                            g.reshape(n, k), _threads.num_threads())
    return _mean(total, n * k), g


def mse_loss(pred, target, *, sample_weight=None, out=None):
    """Mean squared error ``mean(w (pred - target)**2)`` and its gradient ``2 w r / (n k)``.

    Parameters
    ----------
    pred : ndarray of shape (n,) or (n, k)
    target : ndarray of the shape of ``pred`` (or (n,) when ``pred`` is (n, 1))
        Same dtype as ``pred``.
    sample_weight : array-like of shape (n,), optional
    out : ndarray of the shape of ``pred``, optional
        May be ``pred`` itself (in place).

    Returns
    -------
    loss : float
    dpred : ndarray of the shape of ``pred``

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    (2.5, array([1., 2.]))
    """
    p, t, dtype, n, k = _elementwise_pair("mse_loss", pred, "pred", target, "target")
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, p.shape, dtype, p, (t, w))
    if n * k == 0:
        return float("nan"), g
    total = _k.mse_loss(_as2d(p, n, k), _as2d(t, n, k), w, 1.0 / (n * k), g.reshape(n, k),
                        _threads.num_threads())
    return _mean(total, n * k), g


def mae_loss(pred, target, *, sample_weight=None, out=None):
    """Mean absolute error ``mean(w |pred - target|)`` and its gradient ``w sign(r) / (n k)``.

    Parameters
    ----------
    pred : ndarray of shape (n,) or (n, k)
    target : ndarray of the shape of ``pred`` (or (n,) when ``pred`` is (n, 1))
        Same dtype as ``pred``.
    sample_weight : array-like of shape (n,), optional
    out : ndarray of the shape of ``pred``, optional
        May be ``pred`` itself (in place).

    Returns
    -------
    loss : float
    dpred : ndarray of the shape of ``pred`` (0 where ``pred == target``)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.mae_loss(np.array([1.0, -2.0]), np.array([0.0, 0.0]))
    (1.5, array([ 0.5, -0.5]))
    """
    p, t, dtype, n, k = _elementwise_pair("mae_loss", pred, "pred", target, "target")
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, p.shape, dtype, p, (t, w))
    if n * k == 0:
        return float("nan"), g
    total = _k.mae_loss(_as2d(p, n, k), _as2d(t, n, k), w, 1.0 / (n * k), g.reshape(n, k),
                        _threads.num_threads())
    return _mean(total, n * k), g


def huber_loss(pred, target, *, delta=1.0, sample_weight=None, out=None):
    """Mean Huber loss and its gradient ``w clip(r, -delta, delta) / (n k)``, ``r = pred - target``.

    ``l = r**2 / 2`` where ``|r| <= delta``, else ``delta (|r| - delta / 2)``.

    Parameters
    ----------
    pred : ndarray of shape (n,) or (n, k)
    target : ndarray of the shape of ``pred`` (or (n,) when ``pred`` is (n, 1))
        Same dtype as ``pred``.
    delta : float
        The threshold between the quadratic and linear parts, > 0. Defaults to 1.0.
    sample_weight : array-like of shape (n,), optional
    out : ndarray of the shape of ``pred``, optional
        May be ``pred`` itself (in place).

    Returns
    -------
    loss : float
    dpred : ndarray of the shape of ``pred``

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.huber_loss(np.array([0.5, 3.0]), np.array([0.0, 0.0]))
    (1.3125, array([0.25, 0.5 ]))
    """
    p, t, dtype, n, k = _elementwise_pair("huber_loss", pred, "pred", target, "target")
    d = v.real_scalar(delta, "delta", low=0.0, low_open=True)
    w = _sample_weight(sample_weight, n, dtype)
    g = _grad_out(out, p.shape, dtype, p, (t, w))
    if n * k == 0:
        return float("nan"), g
    total = _k.huber_loss(_as2d(p, n, k), _as2d(t, n, k), w, d, 1.0 / (n * k), g.reshape(n, k),
                          _threads.num_threads())
    return _mean(total, n * k), g
