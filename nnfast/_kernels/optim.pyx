# distutils: sources = csrc/nnf_optim.c
"""Optimizer updates and clipping on flat C-contiguous arrays (the C loops of nnf_optim.c).

The ops layer (``nnfast._ops.optim``) has checked dtypes, shapes, contiguity, writability and
aliasing, flattened every array and excluded empty ones; these wrappers trust their inputs and
run the C kernels with the GIL released. Every array of one call has the same length.
"""

from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_SIMPLE, PyBuffer_Release,
                             PyObject_GetBuffer)
from cython cimport floating
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc, qsort


cdef extern from "nnf_optim.h" nogil:
    void nnf_sgd_update_f32(size_t n, float *param, const float *grad, float *buf,
                            double learning_rate, double momentum, int nesterov,
                            double weight_decay, int nthreads)
    void nnf_sgd_update_f64(size_t n, double *param, const double *grad, double *buf,
                            double learning_rate, double momentum, int nesterov,
                            double weight_decay, int nthreads)
    void nnf_rmsprop_update_f32(size_t n, float *param, const float *grad, float *square_avg,
                                float *buf, double learning_rate, double rho, double epsilon,
                                double momentum, double weight_decay, int nthreads)
    void nnf_rmsprop_update_f64(size_t n, double *param, const double *grad, double *square_avg,
                                double *buf, double learning_rate, double rho, double epsilon,
                                double momentum, double weight_decay, int nthreads)
    void nnf_adam_update_f32(size_t n, float *param, const float *grad, float *m, float *v,
                             long long step, double learning_rate, double beta_1, double beta_2,
                             double epsilon, double weight_decay, int decoupled, int nthreads)
    void nnf_adam_update_f64(size_t n, double *param, const double *grad, double *m, double *v,
                             long long step, double learning_rate, double beta_1, double beta_2,
                             double epsilon, double weight_decay, int decoupled, int nthreads)
    double nnf_sum_squares_f32(size_t n, const float *x, int nthreads)
    double nnf_sum_squares_f64(size_t n, const double *x, int nthreads)
    int NNF_NORM_BLOCKS
    void nnf_sum_squares_many_f32(size_t count, const float *const *xs, const size_t *ns,
                                  double *sums, double *scratch, int nthreads)
    void nnf_sum_squares_many_f64(size_t count, const double *const *xs, const size_t *ns,
                                  double *sums, double *scratch, int nthreads)
    double nnf_sum_abs_f32(size_t n, const float *x, int nthreads)
    double nnf_sum_abs_f64(size_t n, const double *x, int nthreads)
    void nnf_add_sign_f32(size_t n, float *y, const float *x, double alpha, int nthreads)
    void nnf_add_sign_f64(size_t n, double *y, const double *x, double alpha, int nthreads)
    void nnf_scale_f32(size_t n, float *x, double alpha, int nthreads)
    void nnf_scale_f64(size_t n, double *x, double alpha, int nthreads)
    void nnf_scale_add_f32(size_t n, float *y, const float *x, double alpha, int nthreads)
    void nnf_scale_add_f64(size_t n, double *y, const double *x, double alpha, int nthreads)
    void nnf_clip_value_f32(size_t n, float *x, double clip_value, int nthreads)
    void nnf_clip_value_f64(size_t n, double *x, double clip_value, int nthreads)


def sgd_update(floating[::1] param, const floating[::1] grad, floating[::1] momentum_buffer,
               double learning_rate, double momentum, bint nesterov, double weight_decay,
               int nthreads):
    """SGD step in place; ``momentum_buffer`` is None when ``momentum`` is 0."""
    cdef size_t n = param.shape[0]
    cdef floating *buf = NULL
    if momentum_buffer is not None:
        buf = &momentum_buffer[0]
    with nogil:
        if floating is float:
            nnf_sgd_update_f32(n, &param[0], &grad[0], buf, learning_rate, momentum,
                               nesterov, weight_decay, nthreads)
        else:
            nnf_sgd_update_f64(n, &param[0], &grad[0], buf, learning_rate, momentum,
                               nesterov, weight_decay, nthreads)


def rmsprop_update(floating[::1] param, const floating[::1] grad, floating[::1] square_avg,
                   floating[::1] momentum_buffer, double learning_rate, double rho,
                   double epsilon, double momentum, double weight_decay, int nthreads):
    """RMSprop step in place; ``momentum_buffer`` is None when ``momentum`` is 0."""
    cdef size_t n = param.shape[0]
    cdef floating *buf = NULL
    if momentum_buffer is not None:
        buf = &momentum_buffer[0]
    with nogil:
        if floating is float:
            nnf_rmsprop_update_f32(n, &param[0], &grad[0], &square_avg[0], buf, learning_rate,
                                   rho, epsilon, momentum, weight_decay, nthreads)
        else:
            nnf_rmsprop_update_f64(n, &param[0], &grad[0], &square_avg[0], buf, learning_rate,
                                   rho, epsilon, momentum, weight_decay, nthreads)


def adam_update(floating[::1] param, const floating[::1] grad, floating[::1] m,
                floating[::1] v, long long step, double learning_rate, double beta_1,
                double beta_2, double epsilon, double weight_decay, bint decoupled,
                int nthreads):
    """Adam (or AdamW when ``decoupled``) step in place; ``step`` >= 1."""
    cdef size_t n = param.shape[0]
    with nogil:
        if floating is float:
            nnf_adam_update_f32(n, &param[0], &grad[0], &m[0], &v[0], step, learning_rate,
                                beta_1, beta_2, epsilon, weight_decay, decoupled, nthreads)
        else:
            nnf_adam_update_f64(n, &param[0], &grad[0], &m[0], &v[0], step, learning_rate,
                                beta_1, beta_2, epsilon, weight_decay, decoupled, nthreads)


def sum_squares(const floating[::1] x, int nthreads):
    """Σ x² accumulated in double, in an order that does not depend on ``nthreads``."""
    cdef size_t n = x.shape[0]
    cdef double s
    with nogil:
        if floating is float:
            s = nnf_sum_squares_f32(n, &x[0], nthreads)
        else:
            s = nnf_sum_squares_f64(n, &x[0], nthreads)
    return s


def sum_abs(const floating[::1] x, int nthreads):
    """Σ |x| accumulated in double, in an order that does not depend on ``nthreads``."""
    cdef size_t n = x.shape[0]
    cdef double s
    with nogil:
        if floating is float:
            s = nnf_sum_abs_f32(n, &x[0], nthreads)
        else:
            s = nnf_sum_abs_f64(n, &x[0], nthreads)
    return s


cdef struct _span:
    uintptr_t lo, hi
    Py_ssize_t index


cdef int _span_cmp(const void *a, const void *b) noexcept nogil:
    cdef uintptr_t x = (<const _span *>a).lo, y = (<const _span *>b).lo
    return -1 if x < y else (1 if x > y else 0)


def first_overlap(list arrays):
    """``(i, j)`` with i < j for two of the C-contiguous ``arrays`` whose memory overlaps, or None.

    Sorts the arrays' byte ranges (empty arrays hold none): O(n log n), no Python per pair.
    """
    cdef Py_ssize_t n = len(arrays), k, m = 0, a, b
    cdef Py_buffer view
    cdef _span *spans = <_span *>malloc((n if n else 1) * sizeof(_span))
    if spans == NULL:
        raise MemoryError()
    try:
        for k in range(n):
            PyObject_GetBuffer(arrays[k], &view, PyBUF_SIMPLE)
            if view.len > 0:
                spans[m].lo = <uintptr_t>view.buf
                spans[m].hi = <uintptr_t>view.buf + <uintptr_t>view.len
                spans[m].index = k
                m += 1
            PyBuffer_Release(&view)
        qsort(spans, m, sizeof(_span), _span_cmp)
        for k in range(1, m):
            if spans[k].lo < spans[k - 1].hi:
                a, b = spans[k - 1].index, spans[k].index
                return (a, b) if a < b else (b, a)
        return None
    finally:
        free(spans)


def sum_squares_many(list arrays, bint single, int nthreads):
    """[Σ x² for x in arrays]: one thread team over every block of every array.

    ``arrays`` are C-contiguous arrays (any shape) of one dtype, float32 when ``single``, else
    float64, read through the buffer protocol (no views made: a model's worth of small
    gradients costs no per-array Python); each sum has the bits :func:`sum_squares` gives for
    that array alone.
    """
    cdef size_t count = len(arrays), k, acquired = 0
    if count == 0:
        return []
    cdef Py_ssize_t itemsize = 4 if single else 8
    cdef Py_buffer *views = <Py_buffer *>malloc(count * sizeof(Py_buffer))
    cdef void **xs = <void **>malloc(count * sizeof(void *))
    cdef size_t *ns = <size_t *>malloc(count * sizeof(size_t))
    cdef double *sums = <double *>malloc(count * sizeof(double))
    cdef double *scratch = <double *>malloc(count * NNF_NORM_BLOCKS * sizeof(double))
    try:
        if views == NULL or xs == NULL or ns == NULL or sums == NULL or scratch == NULL:
            raise MemoryError()
        for k in range(count):
            PyObject_GetBuffer(arrays[k], &views[k], PyBUF_C_CONTIGUOUS)
            acquired += 1
            if views[k].itemsize != itemsize:
                raise ValueError(f"sum_squares_many: arrays[{k}] has {views[k].itemsize}-byte "
                                 f"items, expected {itemsize}")
            ns[k] = <size_t>(views[k].len // itemsize)
            xs[k] = views[k].buf if ns[k] else NULL
        with nogil:
            if single:
                nnf_sum_squares_many_f32(count, <const float *const *>xs, ns, sums, scratch,
                                         nthreads)
            else:
                nnf_sum_squares_many_f64(count, <const double *const *>xs, ns, sums, scratch,
                                         nthreads)
        return [sums[k] for k in range(count)]
    finally:
        for k in range(acquired):
            PyBuffer_Release(&views[k])
        free(views)
        free(xs)
        free(ns)
        free(sums)
        free(scratch)


def scale(floating[::1] x, double alpha, int nthreads):
    """x *= alpha in place."""
    cdef size_t n = x.shape[0]
    with nogil:
        if floating is float:
            nnf_scale_f32(n, &x[0], alpha, nthreads)
        else:
            nnf_scale_f64(n, &x[0], alpha, nthreads)


def scale_add(floating[::1] y, const floating[::1] x, double alpha, int nthreads):
    """y += alpha·x in place."""
    cdef size_t n = y.shape[0]
    with nogil:
        if floating is float:
            nnf_scale_add_f32(n, &y[0], &x[0], alpha, nthreads)
        else:
            nnf_scale_add_f64(n, &y[0], &x[0], alpha, nthreads)


def clip_value(floating[::1] x, double clip_value, int nthreads):
    """x := clamp(x, -clip_value, clip_value) in place."""
    cdef size_t n = x.shape[0]
    with nogil:
        if floating is float:
            nnf_clip_value_f32(n, &x[0], clip_value, nthreads)
        else:
            nnf_clip_value_f64(n, &x[0], clip_value, nthreads)


def add_sign(floating[::1] y, const floating[::1] x, double alpha, int nthreads):
    """y += alpha·sign(x) in place (sign 0 at 0)."""
    cdef size_t n = y.shape[0]
    with nogil:
        if floating is float:
            nnf_add_sign_f32(n, &y[0], &x[0], alpha, nthreads)
        else:
            nnf_add_sign_f64(n, &y[0], &x[0], alpha, nthreads)
