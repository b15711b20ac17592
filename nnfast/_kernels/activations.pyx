# distutils: sources = csrc/nnf_act.c
"""Activation kernels: element-wise forward/backward, row softmax, bias epilogue, bias gradient.

Thin typed wrappers over ``csrc/nnf_act.c``. The ops layer (``nnfast/_ops/activations.py``) has
validated everything: arrays are C-contiguous, share one dtype and have matching sizes, codes
are in range; element-wise kernels receive flat 1-D views. Every call releases the GIL.
"""

from cython cimport floating


cdef extern from "nnf_act.h" nogil:
    int NNF_ACT_COUNT
    int NNF_BIAS_GRAD_BLOCK
    int nnf_act_backward_uses_output(int code)
    void nnf_act_forward_f32(int code, size_t n, const float *x, float *y, int nthreads)
    void nnf_act_forward_f64(int code, size_t n, const double *x, double *y, int nthreads)
    void nnf_act_backward_f32(int code, size_t n, const float *s, const float *dy, float *dx,
                              int nthreads)
    void nnf_act_backward_f64(int code, size_t n, const double *s, const double *dy,
                              double *dx, int nthreads)
    void nnf_softmax_f32(size_t rows, size_t cols, const float *x, float *y, int nthreads)
    void nnf_softmax_f64(size_t rows, size_t cols, const double *x, double *y, int nthreads)
    void nnf_log_softmax_f32(size_t rows, size_t cols, const float *x, float *y, int nthreads)
    void nnf_log_softmax_f64(size_t rows, size_t cols, const double *x, double *y,
                             int nthreads)
    void nnf_softmax_backward_f32(size_t rows, size_t cols, const float *y, const float *dy,
                                  float *dx, int nthreads)
    void nnf_softmax_backward_f64(size_t rows, size_t cols, const double *y,
                                  const double *dy, double *dx, int nthreads)
    void nnf_bias_act_f32(int code, size_t rows, size_t cols, float *z, const float *bias,
                          int nthreads)
    void nnf_bias_act_f64(int code, size_t rows, size_t cols, double *z, const double *bias,
                          int nthreads)
    int nnf_bias_grad_f32(size_t rows, size_t cols, const float *g, float *out, int nthreads)
    int nnf_bias_grad_f64(size_t rows, size_t cols, const double *g, double *out,
                          int nthreads)
    void nnf_act_math_f32(int fn, size_t n, const float *x, float *y)


def backward_uses_output(int code):
    """True when the derivative of ``code`` is computed from the forward output y (else x)."""
    return bool(nnf_act_backward_uses_output(code))


def forward(int code, const floating[::1] x, floating[::1] y, int nthreads):
    """``y := act(x)`` element-wise (not softmax); ``y`` may be ``x``."""
    cdef size_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            nnf_act_forward_f32(code, n, &x[0], &y[0], nthreads)
        else:
            nnf_act_forward_f64(code, n, &x[0], &y[0], nthreads)


def backward(int code, const floating[::1] s, const floating[::1] dy, floating[::1] dx,
             int nthreads):
    """``dx := dy * act'`` element-wise from ``s`` (y or x, see :func:`backward_uses_output`)."""
    cdef size_t n = dy.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            nnf_act_backward_f32(code, n, &s[0], &dy[0], &dx[0], nthreads)
        else:
            nnf_act_backward_f64(code, n, &s[0], &dy[0], &dx[0], nthreads)


def softmax(const floating[:, ::1] x, floating[:, ::1] y, bint log, int nthreads):
    """Row softmax (or log-softmax when ``log``) of ``x`` into ``y`` (``y`` may be ``x``)."""
    cdef size_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        if floating is float:
            if log:
                nnf_log_softmax_f32(rows, cols, &x[0, 0], &y[0, 0], nthreads)
            else:
                nnf_softmax_f32(rows, cols, &x[0, 0], &y[0, 0], nthreads)
        else:
            if log:
                nnf_log_softmax_f64(rows, cols, &x[0, 0], &y[0, 0], nthreads)
            else:
                nnf_softmax_f64(rows, cols, &x[0, 0], &y[0, 0], nthreads)


def softmax_backward(const floating[:, ::1] y, const floating[:, ::1] dy,
                     floating[:, ::1] dx, int nthreads):
    """``dx := y * (dy - rowsum(dy * y))``; ``dx`` may be ``dy``."""
    cdef size_t rows = y.shape[0], cols = y.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        if floating is float:
            nnf_softmax_backward_f32(rows, cols, &y[0, 0], &dy[0, 0], &dx[0, 0], nthreads)
        else:
            nnf_softmax_backward_f64(rows, cols, &y[0, 0], &dy[0, 0], &dx[0, 0], nthreads)


def bias_act(int code, floating[:, ::1] z, const floating[::1] bias, int nthreads):
    """``z := act(z + bias)`` in place (``bias`` may be None)."""
    cdef size_t rows = z.shape[0], cols = z.shape[1]
    cdef const floating *b = NULL
    if rows == 0 or cols == 0:
        return
    if bias is not None:
        b = &bias[0]
    with nogil:
        if floating is float:
            nnf_bias_act_f32(code, rows, cols, &z[0, 0], b, nthreads)
        else:
            nnf_bias_act_f64(code, rows, cols, &z[0, 0], b, nthreads)


def bias_grad(const floating[:, ::1] g, floating[::1] out, int nthreads):
    """``out := g.sum(axis=0)`` accumulated in double, the same for every thread count."""
    cdef size_t rows = g.shape[0], cols = g.shape[1]
    cdef int status
    if cols == 0:
        return
    with nogil:
        if floating is float:
            status = nnf_bias_grad_f32(rows, cols, &g[0, 0] if rows else NULL, &out[0],
                                       nthreads)
        else:
            status = nnf_bias_grad_f64(rows, cols, &g[0, 0] if rows else NULL, &out[0],
                                       nthreads)
    if status != 0:
        raise MemoryError("bias_grad: could not allocate the partial-sum buffer")


def math_f32(int fn, const float[::1] x, float[::1] y):
    """``y := f(x)`` with the kernels' own float32 math (0 erf, 1 normal CDF, 2 tanh, 3 expm1).

    For accuracy tests against libm; not part of the public ops.
    """
    cdef size_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        nnf_act_math_f32(fn, n, &x[0], &y[0])
