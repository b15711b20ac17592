"""Validated optimizer ops: in-place SGD, RMSprop and Adam/AdamW updates, norms and clipping.

Every update makes one pass over memory (the C kernels of ``csrc/nnf_optim.c``) and follows
torch.optim's update rules, but for numbers below the smallest normal float: optimizer state
that small is stored as 0, and an update term or input that small counts as 0 (a subnormal
operand costs a microcode assist per instruction on x86, which once took two thirds of a
training step). Arrays updated in place (parameters, optimizer state, gradients
being clipped) must be C-contiguous, writable and must not overlap each other: an in-place
update cannot work on a copy. Read-only inputs (``grad`` of an update, ``x`` of
:func:`scale_add`) may have any layout; they are copied when needed.
"""

import math

import numpy as np

from nnfast import _threads
from nnfast._kernels import optim as _k
from nnfast._ops import _validate as val

_F32, _F64 = val.FLOAT_DTYPES

__all__ = [
    "scale_add",
    "clip_by_value",
    "global_norm",
    "clip_by_norm",
    "clip_by_global_norm",
    "sgd_update",
    "rmsprop_update",
    "adam_update",
]

GLOBAL_CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ divides by (total_norm + 1e-6)


# ---- argument checks private to this module ----

def _hyper(value, name, *, low=0.0, high=None, high_open=False, finite=True):
    """A real hyperparameter in [low, high] (or [low, high)); NaN and, when ``finite``, inf rejected."""
    if type(value) is float or type(value) is int:  # the common case, checked without helpers
        x = float(value)
        if ((low is None or x >= low)
                and (high is None or x < high or (x == high and not high_open))
                and (x - x == 0.0 or (not finite and x == x))):
            return x
    x = val.real_scalar(value, name, low=low, high=high, high_open=high_open)
    if finite and math.isinf(x):
        raise ValueError(f"Expected {name} to be finite, received: {name}={value!r}")
    return x


def _require_ndarray(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"Expected {name} to be a numpy.ndarray (it is updated in place), "
            f"received: {name}={type(x).__name__}"
        )


def _writable_contiguous(x, name):
    flags = x.flags
    if flags.c_contiguous and flags.writeable:
        return
    if not flags.c_contiguous:
        raise ValueError(
            f"Expected {name} to be C-contiguous (it is updated in place and cannot be a copy), "
            f"received: {name} with strides {x.strides} and shape {x.shape}"
        )
    raise ValueError(f"Expected {name} to be writable, received: a read-only {name}")


def _no_overlap(arrays, name_of):
    """ValueError when two of the C-contiguous in-place ``arrays`` overlap; ``name_of(i)`` names
    array ``i`` (called only for the message)."""
    if len(arrays) < 2:
        return
    pair = _k.first_overlap(arrays)
    if pair is not None:
        na, nb = name_of(pair[0]), name_of(pair[1])
        raise ValueError(
            f"Expected {na} and {nb} not to overlap (both are updated in place), "
            f"received: {na} and {nb} sharing memory"
        )


def _inplace_group(op, names_arrays, read_only=()):
    """Check the arrays of one update; return ``(flat in-place arrays, flat read-only, dtype)``.

    ``names_arrays`` are the in-place arrays, the first being the reference shape;
    ``read_only`` are inputs that may be copied (any layout, may overlap nothing written).
    """
    plain = _plain_group(names_arrays, read_only)
    if plain is not None:
        return plain
    for name, a in names_arrays:
        _require_ndarray(a, name)
    first_name, first = names_arrays[0]
    dtype = first.dtype
    ro = [x for _, x in read_only]
    if not (dtype in val.FLOAT_DTYPES
            and all(a.dtype == dtype for _, a in names_arrays)
            and all(isinstance(x, np.ndarray) and x.dtype == dtype for x in ro)):
        every = dict(names_arrays)
        every.update(read_only)
        converted, dtype = val.floats(op, **every)  # raises, or converts array-likes
        ro = converted[len(names_arrays):]
    shape = first.shape
    for name, a in names_arrays[1:]:
        if a.shape != shape:
            val.same_shape(first, first_name, a, name)
    for (name, _), x in zip(read_only, ro):
        if x.shape != shape:
            val.same_shape(first, first_name, x, name)
    for name, a in names_arrays:
        _writable_contiguous(a, name)
    ro = [x if x.flags.c_contiguous else np.ascontiguousarray(x) for x in ro]
    written = [a for _, a in names_arrays]
    if len(written) + len(ro) > 1 and _k.first_overlap(written + ro) is not None:
        # rare: in-place arrays may not overlap (ValueError); a read-only input that overlaps
        # one is copied, as the kernel reads it while writing the other (restrict)
        _no_overlap(written, lambda i: names_arrays[i][0])
        ro = [x.copy() if _k.first_overlap(written + [x]) is not None else x for x in ro]
    return [a.reshape(-1) for _, a in names_arrays], [x.reshape(-1) for x in ro], dtype


def _plain_group(names_arrays, read_only):
    """:func:`_inplace_group`'s result when every array is already fine (float ndarrays of one
    dtype and shape, C-contiguous, the in-place ones writable, none overlapping), else None:
    the common case in one pass, without the checks that name what is wrong."""
    first = names_arrays[0][1]
    if type(first) is not np.ndarray:
        return None
    dt, shape = first.dtype, first.shape
    if dt not in val.FLOAT_DTYPES:
        return None
    arrays = []
    for _, a in names_arrays:
        if type(a) is not np.ndarray or a.dtype != dt or a.shape != shape:
            return None
        flags = a.flags
        if not (flags.c_contiguous and flags.writeable):
            return None
        arrays.append(a)
    for _, x in read_only:
        if type(x) is not np.ndarray or x.dtype != dt or x.shape != shape or not x.flags.c_contiguous:
            return None
        arrays.append(x)
    if len(arrays) > 1 and _k.first_overlap(arrays) is not None:
        return None
    flat = [a if a.ndim == 1 else a.reshape(-1) for a in arrays]  # a view costs ~0.1 us each
    return flat[:len(names_arrays)], flat[len(names_arrays):], dt


def _plain_writable(arrays):
    """True when ``arrays`` are C-contiguous writable float ndarrays of one dtype (one pass)."""
    if not arrays:
        return True
    dt = getattr(arrays[0], "dtype", None)
    if dt not in val.FLOAT_DTYPES:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dt:
            return False
        flags = a.flags
        if not (flags.c_contiguous and flags.writeable):
            return False
    return True


def _array_list(arrays, name):
    """One ndarray, or a list/tuple of array-likes, as a list (never a bare scalar)."""
    if isinstance(arrays, np.ndarray):
        return [arrays]
    if isinstance(arrays, (list, tuple)):
        return list(arrays)
    raise TypeError(
        f"Expected {name} to be an ndarray or a list/tuple of ndarrays, "
        f"received: {name}={type(arrays).__name__}"
    )


# ---- element-wise helpers ----

def scale_add(y, x, alpha):
    """``y += alpha·x`` in place (e.g. the L2 gradient ``grad += 2λ·W``).

    Parameters
    ----------
    y : ndarray
        Float32 or float64, C-contiguous and writable; updated in place.
    x : ndarray of the shape of ``y``
        Same dtype, any layout (it may be ``y`` itself).
    alpha : float
        Finite scale.

    Returns
    -------
    None

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> g = np.zeros(3, np.float32); w = np.array([1.0, -2.0, 0.5], np.float32)
    >>> nf.kernels.scale_add(g, w, 2 * 0.1)
    >>> g
    array([ 0.2, -0.4,  0.1], dtype=float32)
    """
    alpha = _hyper(alpha, "alpha", low=None)
    (y1,), (x1,), _ = _inplace_group("scale_add", [("y", y)], read_only=[("x", x)])
    if y1.size:
        _k.scale_add(y1, x1, alpha, _threads.num_threads())


def clip_by_value(grad, clip_value):
    """Clamp ``grad`` to ``[-clip_value, clip_value]`` in place (Keras ``clipvalue``).

    Parameters
    ----------
    grad : ndarray
        Float32 or float64, C-contiguous and writable. NaN entries stay NaN.
    clip_value : float
        At least 0 (inf clips nothing).

    Returns
    -------
    None

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> g = np.array([-3.0, 0.5, 2.0])
    >>> nf.kernels.clip_by_value(g, 1.0)
    >>> g
    array([-1. ,  0.5,  1. ])
    """
    c = _hyper(clip_value, "clip_value", finite=False)
    (g,), _, _ = _inplace_group("clip_by_value", [("grad", grad)])
    if g.size:
        _k.clip_value(g, c, _threads.num_threads())


# ---- norms and norm clipping ----

def _same_float_arrays(arrays, op, name):
    """``arrays`` as float ndarrays of one dtype (array-likes converted; else TypeError)."""
    if arrays:
        dt = getattr(arrays[0], "dtype", None)
        if dt in val.FLOAT_DTYPES and all(type(a) is np.ndarray and a.dtype == dt for a in arrays):
            return arrays
        converted, _ = val.floats(op, **{f"{name}[{i}]": a for i, a in enumerate(arrays)})
        return converted
    return arrays


def _sum_squares(arrays):
    """Σ over float ``arrays`` (one dtype) of Σ x², every array's blocks in one thread team.

    Each array's sum is deterministic (its order depends on its size only); they are added
    in list order.
    """
    if not arrays:
        return 0.0
    if len(arrays) == 1:  # the common call, without the list's checks (1.4 -> ~0.6 us)
        one = arrays[0]
        if not one.flags.c_contiguous:
            one = np.ascontiguousarray(one)
        if one.ndim != 1:
            one = one.reshape(-1)
        return _k.sum_squares(one, _threads.num_threads()) if one.size else 0.0
    flat = [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in arrays]
    single = flat[0].dtype == np.float32
    total = 0.0
    for s in _k.sum_squares_many(flat, single, _threads.num_threads()):
        total += s
    return total


def global_norm(arrays):
    """The Euclidean norm of all the entries of one array or of a sequence of arrays.

    The sum of squares is accumulated in double in an order that depends on the sizes only,
    so the result is the same on any thread count.

    Parameters
    ----------
    arrays : ndarray or list/tuple of ndarrays
        Float32 or float64 (one dtype for all), any shapes and layouts.

    Returns
    -------
    float
        ``sqrt(Σ_arrays Σ x²)``; 0.0 for no entries.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.global_norm([np.array([3.0]), np.array([[4.0]])])
    5.0
    """
    if type(arrays) is np.ndarray and (arrays.dtype is _F32 or arrays.dtype is _F64):
        return math.sqrt(_sum_squares((arrays,)))  # one float array: nothing else to check
    arrays = _same_float_arrays(_array_list(arrays, "arrays"), "global_norm", "arrays")
    return math.sqrt(_sum_squares(arrays))


def clip_by_norm(grad, max_norm):
    """Rescale ``grad`` in place to norm ``max_norm`` if its norm is larger (Keras ``clipnorm``).

    Parameters
    ----------
    grad : ndarray
        Float32 or float64, C-contiguous and writable.
    max_norm : float
        At least 0 (inf clips nothing).

    Returns
    -------
    float
        The norm of ``grad`` before clipping. A non-finite norm scales ``grad`` by
        ``max_norm / norm`` too (inf entries become NaN, a NaN norm makes every entry NaN), so
        the failure shows instead of passing silently.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> g = np.array([3.0, 4.0])
    >>> nf.kernels.clip_by_norm(g, 1.0)
    5.0
    >>> g
    array([0.6, 0.8])
    """
    max_norm = _hyper(max_norm, "max_norm", finite=False)
    (g,), _, _ = _inplace_group("clip_by_norm", [("grad", grad)])
    norm = math.sqrt(_k.sum_squares(g, _threads.num_threads())) if g.size else 0.0
    if not norm <= max_norm:  # a NaN norm poisons the gradient (scaled by NaN), as Keras does
        _k.scale(g, max_norm / norm, _threads.num_threads())
    return norm


def clip_by_global_norm(arrays, max_norm):
    """Rescale all ``arrays`` in place when their global norm exceeds ``max_norm``.

    torch.nn.utils.clip_grad_norm_ semantics: with ``norm`` the global norm, every array is
    multiplied by ``max_norm / (norm + 1e-6)`` when that factor is below 1.

    Parameters
    ----------
    arrays : ndarray or list/tuple of ndarrays
        Float32 or float64 (one dtype), each C-contiguous and writable, none overlapping.
    max_norm : float
        At least 0 (inf clips nothing).

    Returns
    -------
    float
        The global norm before clipping. A NaN norm makes every entry NaN, as in torch.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> gs = [np.array([3.0]), np.array([4.0])]
    >>> nf.kernels.clip_by_global_norm(gs, 1.0)
    5.0
    >>> round(nf.kernels.global_norm(gs), 6)
    1.0
    """
    max_norm = _hyper(max_norm, "max_norm", finite=False)
    arrays = _array_list(arrays, "arrays")
    if not _plain_writable(arrays):  # the checks one by one, for the error that names the array
        named = [(f"arrays[{i}]", a) for i, a in enumerate(arrays)]
        for name, a in named:
            _require_ndarray(a, name)
        _same_float_arrays(arrays, "clip_by_global_norm", "arrays")
        for name, a in named:
            _writable_contiguous(a, name)
    _no_overlap(arrays, "arrays[{}]".format)
    norm = math.sqrt(_sum_squares(arrays))
    coef = max_norm / (norm + GLOBAL_CLIP_EPS)
    if not coef >= 1.0:  # a NaN norm poisons every array, as torch does
        nt = _threads.num_threads()
        for a in arrays:
            if a.size:
                _k.scale(a.reshape(-1), coef, nt)
    return norm


# ---- optimizer updates ----

def sgd_update(param, grad, momentum_buffer=None, *, learning_rate, momentum=0.0,
               nesterov=False, weight_decay=0.0):
    """One SGD step in place, as torch.optim.SGD (dampening 0).

    ``g = grad + weight_decay·param``; with momentum ``b = momentum·b + g`` and
    ``g = g + momentum·b`` (Nesterov) or ``g = b``; then ``param -= learning_rate·g``.

    Parameters
    ----------
    param : ndarray
        Float32 or float64, C-contiguous and writable; updated in place.
    grad : ndarray of the shape of ``param``
        Same dtype, any layout.
    momentum_buffer : ndarray of the shape of ``param``, optional
        Required when ``momentum > 0``; start it at zeros (which equals torch's first step).
        Updated in place.
    learning_rate : float
        At least 0.
    momentum : float
        At least 0. Defaults to 0.0.
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0``). Defaults to False.
    weight_decay : float
        L2 penalty added to the gradient, at least 0. Defaults to 0.0.

    Returns
    -------
    None

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> p = np.ones(2, np.float32); b = np.zeros(2, np.float32)
    >>> nf.kernels.sgd_update(p, np.array([1.0, -1.0], np.float32), b, learning_rate=0.1, momentum=0.9)
    >>> p
    array([0.9, 1.1], dtype=float32)
    """
    lr = _hyper(learning_rate, "learning_rate")
    mu = _hyper(momentum, "momentum")
    wd = _hyper(weight_decay, "weight_decay")
    nesterov = val.flag(nesterov, "nesterov")
    if nesterov and mu == 0.0:
        raise ValueError("Expected momentum > 0 for Nesterov momentum, received: momentum=0.0, nesterov=True")
    inplace = [("param", param)]
    if mu > 0.0 and momentum_buffer is None:
        raise ValueError(
            f"Expected a momentum_buffer when momentum > 0, received: momentum_buffer=None, momentum={momentum!r}"
        )
    if momentum_buffer is not None:  # checked like the others even where momentum = 0 leaves it
        inplace.append(("momentum_buffer", momentum_buffer))
    (p, *rest), (g,), _ = _inplace_group("sgd_update", inplace, read_only=[("grad", grad)])
    if p.size:
        _k.sgd_update(p, g, rest[0] if rest and mu > 0.0 else None, lr, mu, nesterov, wd,
                      _threads.num_threads())


def rmsprop_update(param, grad, square_avg, momentum_buffer=None, *, learning_rate, rho=0.9,
                   epsilon=1e-8, momentum=0.0, weight_decay=0.0):
    """One RMSprop step in place, as torch.optim.RMSprop with ``alpha=rho`` (not centered).

    ``g = grad + weight_decay·param``; ``v = rho·v + (1-rho)·g²``; with momentum
    ``b = momentum·b + g/(√v + ε)`` and ``param -= learning_rate·b``, else
    ``param -= learning_rate·g/(√v + ε)``.

    Parameters
    ----------
    param : ndarray
        Float32 or float64, C-contiguous and writable; updated in place.
    grad : ndarray of the shape of ``param``
        Same dtype, any layout.
    square_avg : ndarray of the shape of ``param``
        The running average of g² (start at zeros); updated in place.
    momentum_buffer : ndarray of the shape of ``param``, optional
        Required when ``momentum > 0`` (start at zeros); updated in place.
    learning_rate : float
        At least 0.
    rho : float
        Decay of the square average, in [0, 1). Defaults to 0.9.
    epsilon : float
        At least 0. Defaults to 1e-8.
    momentum : float
        At least 0. Defaults to 0.0.
    weight_decay : float
        At least 0. Defaults to 0.0.

    Returns
    -------
    None

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> p = np.zeros(1); s = np.zeros(1)
    >>> nf.kernels.rmsprop_update(p, np.array([2.0]), s, learning_rate=0.1, rho=0.75, epsilon=0.0)
    >>> p, s
    (array([-0.2]), array([1.]))
    """
    lr = _hyper(learning_rate, "learning_rate")
    rho = _hyper(rho, "rho", high=1.0, high_open=True)
    eps = _hyper(epsilon, "epsilon")
    mu = _hyper(momentum, "momentum")
    wd = _hyper(weight_decay, "weight_decay")
    inplace = [("param", param), ("square_avg", square_avg)]
    if mu > 0.0 and momentum_buffer is None:
        raise ValueError(
            f"Expected a momentum_buffer when momentum > 0, received: momentum_buffer=None, momentum={momentum!r}"
        )
    if momentum_buffer is not None:  # checked like the others even where momentum = 0 leaves it
        inplace.append(("momentum_buffer", momentum_buffer))
    (p, s, *rest), (g,), _ = _inplace_group("rmsprop_update", inplace, read_only=[("grad", grad)])
    if p.size:
        buf = rest[0] if rest and mu > 0.0 else None
        _k.rmsprop_update(p, g, s, buf, lr, rho, eps, mu, wd, _threads.num_threads())


_STEP_CAP = 1 << 62  # beta**step is 0.0 in double long before this


def adam_update(param, grad, m, v, *, step, learning_rate, beta_1=0.9, beta_2=0.999,
                epsilon=1e-8, weight_decay=0.0, decoupled=False):
    """One Adam (or AdamW) step in place, as torch.optim.Adam / AdamW (amsgrad off).

    Adam (``decoupled=False``) adds ``weight_decay·param`` to the gradient; AdamW
    (``decoupled=True``) first multiplies ``param`` by ``1 - learning_rate·weight_decay``. Then
    ``m = β1·m + (1-β1)·g``, ``v = β2·v + (1-β2)·g²`` and
    ``param -= lr/(1-β1^step) · m / (√v / √(1-β2^step) + ε)``; the bias corrections are
    computed once per call in double.

    Parameters
    ----------
    param : ndarray
        Float32 or float64, C-contiguous and writable; updated in place.
    grad : ndarray of the shape of ``param``
        Same dtype, any layout.
    m, v : ndarray of the shape of ``param``
        First and second moment estimates (start at zeros); updated in place.
    step : int
        The number of this step, counting from 1.
    learning_rate : float
        At least 0.
    beta_1, beta_2 : float
        Moment decay rates in [0, 1). Default to 0.9 and 0.999.
    epsilon : float
        At least 0. Defaults to 1e-8.
    weight_decay : float
        At least 0. Defaults to 0.0.
    decoupled : bool
        AdamW's decoupled weight decay. Defaults to False.

    Returns
    -------
    None

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> p = np.ones(2, np.float32); m = np.zeros(2, np.float32); v = np.zeros(2, np.float32)
    >>> nf.kernels.adam_update(p, np.array([0.5, -2.0], np.float32), m, v, step=1, learning_rate=0.1)
    >>> p.round(4)  # the first step moves each entry by about learning_rate
    array([0.9, 1.1], dtype=float32)
    """
    if not (type(step) is int and step >= 1):
        step = val.integer(step, "step", low=1)
    lr = _hyper(learning_rate, "learning_rate")
    b1 = _hyper(beta_1, "beta_1", high=1.0, high_open=True)
    b2 = _hyper(beta_2, "beta_2", high=1.0, high_open=True)
    eps = _hyper(epsilon, "epsilon")
    wd = _hyper(weight_decay, "weight_decay")
    decoupled = val.flag(decoupled, "decoupled")
    (p, m1, v1), (g,), _ = _inplace_group(
        "adam_update", [("param", param), ("m", m), ("v", v)], read_only=[("grad", grad)]
    )
    if p.size:
        _k.adam_update(p, g, m1, v1, min(step, _STEP_CAP), lr, b1, b2, eps, wd, decoupled,
                       _threads.num_threads())
