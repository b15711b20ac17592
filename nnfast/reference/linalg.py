"""NumPy twins of the matrix ops."""

import numpy as np

__all__ = ["matmul", "dense_forward"]


def matmul(a, b, *, transpose_a=False, transpose_b=False, out=None):
    a64 = np.asarray(a, np.float64)
    b64 = np.asarray(b, np.float64)
    r = (a64.T if transpose_a else a64) @ (b64.T if transpose_b else b64)
    return _finish(r, np.result_type(np.asarray(a), np.asarray(b)), out)  # (a list is no dtype)


def dense_forward(x, kernel, bias, activation="linear", out=None):
    from nnfast.reference.activations import activation_forward

    z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    r = activation_forward(z, activation)
    return _finish(r, np.asarray(x).dtype, out)


def _finish(r, dtype, out):
    if out is None:
        return r.astype(dtype, copy=False)
    out[...] = r
    return out
