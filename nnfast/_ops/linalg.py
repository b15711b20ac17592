"""Validated matrix ops: ``matmul`` and ``dense_forward`` (GEMM with a fused epilogue)."""

import numpy as np

from nnfast._kernels import blas as _blas
from nnfast._ops import _validate as v

__all__ = ["matmul", "dense_forward"]

_INT_MAX = 2**31 - 1


def _blas_operand(x):
    """``(memory, transposed, ld)``: ``x`` as a row-major view BLAS can read, copying if needed.

    A C-ordered matrix is used as is; an F-ordered one (or a transposed view) is the C-ordered
    memory of its transpose; a matrix with a unit inner stride and a larger outer stride is
    used through its leading dimension. Anything else (negative or two non-unit strides) is
    copied.
    """
    rows, cols = x.shape
    item = x.itemsize
    s0, s1 = x.strides
    if x.flags.c_contiguous:
        return x, False, max(1, cols)
    if x.flags.f_contiguous:
        return x.T, True, max(1, rows)
    if s1 == item and s0 > 0 and s0 % item == 0 and s0 // item >= cols:
        return x, False, s0 // item
    if s0 == item and s1 > 0 and s1 % item == 0 and s1 // item >= rows:
        return x.T, True, s1 // item
    return np.ascontiguousarray(x), False, max(1, cols)


def _check_int32(name, *dims):
    for d in dims:
        if d > _INT_MAX:
            raise ValueError(f"Expected every dimension of {name} below 2**31 (BLAS limit), received: {d}")


def matmul(a, b, *, transpose_a=False, transpose_b=False, out=None):
    """Matrix product ``op(a) @ op(b)`` through BLAS sgemm/dgemm.

    Parameters
    ----------
    a : ndarray of shape (m, k), or (k, m) when ``transpose_a``
    b : ndarray of shape (k, n), or (n, k) when ``transpose_b``
    transpose_a, transpose_b : bool
        Use the operand transposed (``a.T @ b`` without a copy). Defaults to False.
    out : ndarray of shape (m, n), optional
        C-contiguous, same dtype, not overlapping ``a`` or ``b``.

    Returns
    -------
    ndarray of shape (m, n)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> a = np.ones((2, 3), np.float32)
    >>> nf.kernels.matmul(a, a, transpose_b=True)
    array([[3., 3.],
           [3., 3.]], dtype=float32)
    """
    (a, b), dtype = v.floats("matmul", a=a, b=b)
    v.ndim(a, "a", 2)
    v.ndim(b, "b", 2)
    transpose_a = v.flag(transpose_a, "transpose_a")
    transpose_b = v.flag(transpose_b, "transpose_b")
    m, ka = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if transpose_b else b.shape
    if ka != kb:
        raise ValueError(
            "Expected the inner dimensions of op(a) and op(b) to match, received: "
            f"a.shape={a.shape} (transpose_a={transpose_a}), "
            f"b.shape={b.shape} (transpose_b={transpose_b})"
        )
    out = v.out_array(out, (m, n), dtype, inputs=(a, b))
    _gemm_into(a, transpose_a, b, transpose_b, out, ka)
    return out


def _gemm_into(a, trans_a, b, trans_b, out, k, beta=0.0):
    """out := op(a) @ op(b) (+ beta out); handles empty shapes and operand layouts."""
    m, n = out.shape
    if m == 0 or n == 0:
        return
    if k == 0:
        if beta == 0.0:
            out.fill(0)
        return
    _check_int32("matmul operands", m, n, k)
    am, at, lda = _blas_operand(a)
    bm, bt, ldb = _blas_operand(b)
    _check_int32("matmul operands", lda, ldb)
    _blas.gemm(am, bm, out, at != trans_a, bt != trans_b, k, lda, ldb, 1.0, beta)


def dense_forward(x, kernel, bias, activation="linear", out=None):
    """A dense layer's forward pass ``activation(x @ kernel + bias)``.

    The GEMM writes ``x @ kernel``; bias and activation are applied in one fused pass over the
    output (no temporaries).

    Parameters
    ----------
    x : ndarray of shape (n, d_in)
    kernel : ndarray of shape (d_in, d_out)
    bias : ndarray of shape (d_out,) or None
    activation : str
        Any name of :data:`nnfast.kernels.ACTIVATIONS` except ``"softmax"``, which is applied
        row-wise afterwards. Defaults to ``"linear"``.
    out : ndarray of shape (n, d_out), optional

    Returns
    -------
    ndarray of shape (n, d_out)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> x = np.array([[1.0, -1.0]], np.float32)
    >>> nf.kernels.dense_forward(x, np.eye(2, dtype=np.float32), np.zeros(2, np.float32), "relu")
    array([[1., 0.]], dtype=float32)
    """
    from nnfast._ops import activations as _act

    (x, kernel, bias), dtype = v.floats("dense_forward", ("bias",), x=x, kernel=kernel,
                                        bias=bias)
    v.ndim(x, "x", 2)
    v.ndim(kernel, "kernel", 2)
    if x.shape[1] != kernel.shape[0]:
        raise ValueError(
            "Expected x.shape[1] == kernel.shape[0], received: "
            f"x.shape={x.shape}, kernel.shape={kernel.shape}"
        )
    n_out = kernel.shape[1]
    if bias is not None:
        v.ndim(bias, "bias", 1)
        if bias.shape[0] != n_out:
            raise ValueError(
                f"Expected bias of shape ({n_out},), received: bias.shape={bias.shape}"
            )
        bias = v.contiguous(bias)
    code = _act.activation_code(activation)
    out = v.out_array(out, (x.shape[0], n_out), dtype, inputs=(x, kernel, bias))
    _gemm_into(x, False, kernel, False, out, x.shape[1])
    _act.bias_activation_inplace(out, bias, code)
    return out
