"""Argument checks shared by every op: dtype, shape, layout and ``out=``.

Every compiled kernel trusts its inputs (no bounds checks in ``nogil`` code), so each op runs
its arguments through these helpers first. Errors name the argument, say what was expected and
show what was received.
"""

import numbers

import numpy as np

from nnfast import _threads
from nnfast._kernels.norm import all_finite_f32 as _all_finite_f32, all_finite_f64 as _all_finite_f64
from nnfast._kernels.norm import all_within_f32 as _all_within_f32, all_within_f64 as _all_within_f64
from nnfast._kernels.norm import first_out_of_range as _first_out_of_range

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_F32, _F64 = FLOAT_DTYPES
_I64 = np.dtype(np.int64)


def _fmt_dtype(dt):
    return np.dtype(dt).name


def float_array(x, name):
    """``x`` as an ndarray of float32/float64 (array-likes of floats become float64).

    Raises TypeError for any other dtype: kernels never cast silently.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"Expected {name} to be an array of floats, received: {name}={x!r}") from exc
        if x.dtype.kind in "iub":
            raise TypeError(
                f"Expected {name} to be a float32 or float64 array, received: {name} with dtype {x.dtype}"
            )
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"Expected {name} to be a float32 or float64 array, received: {name} with dtype {x.dtype}"
        )
    return x


def float_input(op, x, name):
    """``(x, dtype)`` for one float array: float ndarrays pass as they are, else :func:`floats`."""
    if isinstance(x, np.ndarray) and x.dtype in FLOAT_DTYPES:
        return x, x.dtype
    (x,), dtype = floats(op, **{name: x})
    return x, dtype


def same_dtype(**arrays):
    """Check that all given arrays (None skipped) share one float dtype; return it."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    kinds = set(dtypes.values())
    if len(kinds) > 1:
        shown = ", ".join(f"{n}={_fmt_dtype(d)}" for n, d in dtypes.items())
        raise TypeError(f"Expected all arrays to share one float dtype, received: {shown}")
    return next(iter(kinds))


def floats(op, optional=(), **arrays):
    """Convert and check several float arrays at once; returns ``(list_of_arrays, dtype)``.

    An argument may be None only when its name is in ``optional`` (it stays None).
    """
    dt = None  # the common case first: float ndarrays of one dtype, returned as they are
    for n, a in arrays.items():
        if type(a) is np.ndarray and (a.dtype is _F32 or a.dtype is _F64) and (dt is None or a.dtype is dt):
            dt = a.dtype
        elif not (a is None and n in optional):
            break
    else:
        if dt is not None:
            return list(arrays.values()), dt
    conv = {}
    for n, a in arrays.items():
        if a is None and n not in optional:
            raise TypeError(f"Expected {n} to be an array of floats, received: {n}=None")
        conv[n] = None if a is None else float_array(a, n)
    dt = same_dtype(**conv)
    return list(conv.values()), dt


def ndim(x, name, expected):
    """Require ``x.ndim`` to be ``expected`` (an int or a tuple of ints)."""
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"Expected {name} to be {want}, received: {name} with shape {x.shape}")


def same_shape(a, a_name, b, b_name):
    if a.shape != b.shape:
        raise ValueError(
            f"Expected {a_name} and {b_name} to have the same shape, received: "
            f"{a_name}.shape={a.shape}, {b_name}.shape={b.shape}"
        )


def contiguous(x):
    """A C-contiguous version of ``x`` (no copy when it already is)."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def out_array(out, shape, dtype, *, inputs=(), allow_inplace=(), name="out"):
    """Return ``out`` checked (or a fresh C-contiguous array when ``out`` is None).

    ``out`` must be a writable C-contiguous ndarray of exactly ``shape`` and ``dtype``. It may
    not overlap any array in ``inputs``, except that it may *be* one of ``allow_inplace``
    (same memory, same layout: an element-wise op writing over its own input).
    """
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"Expected {name} to be a numpy.ndarray or None, received: {name}={type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(
            f"Expected {name} to have dtype {_fmt_dtype(dtype)}, received: {name} with dtype {out.dtype}"
        )
    if out.shape != tuple(shape):
        raise ValueError(f"Expected {name} to have shape {tuple(shape)}, received: {name}.shape={out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"Expected {name} to be C-contiguous, received: a non-contiguous {name}")
    if not out.flags.writeable:
        raise ValueError(f"Expected {name} to be writable, received: a read-only {name}")
    for arr in inputs:
        if arr is None or not np.may_share_memory(out, arr):
            continue
        if any(_same_view(out, ok) for ok in allow_inplace if ok is arr):
            continue
        if not np.shares_memory(out, arr, max_work=1_000_000):
            continue
        raise ValueError(f"Expected {name} not to overlap an input array, received: an {name} sharing memory with an input")
    return out


def _same_view(a, b):
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
    )


def real_scalar(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a Python float, checked against an interval (None bounds are open-ended)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected {name} to be a real number, received: {name}={value!r}")
    v = float(value)
    if v != v:
        raise ValueError(f"Expected {name} to be a number, received: {name}=nan")
    bad = (
        (low is not None and (v < low or (low_open and v == low)))
        or (high is not None and (v > high or (high_open and v == high)))
    )
    if bad:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + repr(low)
        hi = "inf)" if high is None else repr(high) + (")" if high_open else "]")
        raise ValueError(f"Expected {name} in {lo}, {hi}, received: {name}={value!r}")
    return v


def flag(value, name):
    """``value`` as a bool; anything but a Python or NumPy bool is a TypeError naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Expected {name} to be a bool, received: {name}={value!r}")
    return bool(value)


def integer(value, name, *, low=None):
    """``value`` as a Python int (bools rejected), at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an integer, received: {name}={value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"Expected {name} >= {low}, received: {name}={v}")
    return v


def as_array(x):
    """``np.asarray(x)``, taken through ``x.to_numpy()`` for dataframe-like objects (pandas,
    polars): pandas 3's ``__array__`` took 75 us for a one-row frame of 30 floats, its
    ``to_numpy`` 2.6 us, for the same values and dtype."""
    if type(x) is np.ndarray:
        return x
    to_numpy = getattr(x, "to_numpy", None)
    if callable(to_numpy):
        try:
            values = to_numpy()
        except Exception:  # noqa: BLE001 (np.asarray gives the error, or a conversion)
            values = None
        if isinstance(values, np.ndarray):
            return values
    return np.asarray(x)


def labels_inside(lab, n_classes):
    """Whether every value of the integer array ``lab`` lies in ``[0, n_classes)``: one pass
    in C for a contiguous int64 array (min() and max() cost ~3 us on a 32-row batch)."""
    if lab.dtype == _I64 and lab.ndim == 1 and lab.flags.c_contiguous:
        return _first_out_of_range(lab, n_classes) < 0
    return not lab.size or (int(lab.min()) >= 0 and int(lab.max()) < n_classes)


def labels_array(labels, name, n, n_classes):
    """Integer class labels of shape ``(n,)`` in ``[0, n_classes)``, as a contiguous intp array."""
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        if lab.dtype.kind == "f" and lab.size and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
            outside = (lab < 0) | (lab >= n_classes)  # checked before the cast, which would wrap
            if outside.any():
                raise ValueError(f"Expected {name} in [0, {n_classes}), received: a label "
                                 f"{lab[outside][0]:g}")
            lab = lab.astype(np.intp)
        elif lab.dtype.kind == "f" and lab.size == 0:
            lab = lab.astype(np.intp)
        else:
            raise TypeError(f"Expected {name} to hold integer class labels, received: {name} with dtype {lab.dtype}")
    if lab.ndim == 2 and lab.shape[1] == 1:
        lab = lab[:, 0]
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ValueError(f"Expected {name} of shape ({n},), received: {name}.shape={lab.shape}")
    if not labels_inside(lab, n_classes):
        lo = int(lab.min())
        bad = lo if lo < 0 else int(lab.max())
        raise ValueError(f"Expected {name} in [0, {n_classes}), received: a label {bad}")
    return np.ascontiguousarray(lab, dtype=np.intp)


def not_finite(name):
    """The ValueError for an array ``name`` that holds NaN or infinity."""
    return ValueError(f"Expected {name} to be finite, received: {name} with NaN or inf values")


def all_finite(x, threads=None):
    """Whether the array ``x`` holds no NaN and no infinity, in one pass without temporaries
    for C-contiguous float32/float64 arrays (csrc/nnf_check.c), else through NumPy; on up to
    ``threads`` threads (default: nnfast's count)."""
    if x.flags.c_contiguous:
        nt = _threads.num_threads() if threads is None else threads
        if x.dtype == _F32:
            return _all_finite_f32(x.reshape(-1), nt)
        if x.dtype == _F64:
            return _all_finite_f64(x.reshape(-1), nt)
    return bool(np.isfinite(x).all())


def all_within(x, lo, hi):
    """Whether every value of the array ``x`` lies in ``[lo, hi]`` (NaN does not): one pass on
    one thread for C-contiguous float32/float64 arrays, else through NumPy."""
    if x.flags.c_contiguous:
        if x.dtype == _F32:
            return _all_within_f32(x.reshape(-1), lo, hi)
        if x.dtype == _F64:
            return _all_within_f64(x.reshape(-1), lo, hi)
    return bool(((x >= lo) & (x <= hi)).all())
