# distutils: sources = csrc/nnf_norm.c csrc/nnf_check.c
"""Batch/layer normalization, inverted dropout, row gather and shuffle, and the inputs' finiteness
check: thin nogil calls into nnf_norm.c and nnf_check.c.

Every function trusts its arguments: the ops layer (``nnfast._ops.norm``) has checked dtypes,
shapes, contiguity, index ranges and aliasing, and has handled what must not reach C (for
instance a batch-norm forward over zero rows). Outputs are C-contiguous arrays passed in.
"""

from cpython.pycapsule cimport PyCapsule_GetPointer
from cython cimport floating
from libc.stdint cimport int64_t, uint64_t


cdef extern from "numpy/random/distributions.h" nogil:
    ctypedef struct bitgen_t:
        pass
    # numpy's uniform draw from [0, max], the one Generator.shuffle makes (libnpyrandom)
    uint64_t random_interval(bitgen_t *bitgen_state, uint64_t max)


cdef extern from "nnf_check.h" nogil:
    int nnf_all_finite_f32(const float *x, size_t n, int nthreads)
    int nnf_all_finite_f64(const double *x, size_t n, int nthreads)
    int nnf_all_within_f32(const float *x, size_t n, float lo, float hi)
    int nnf_all_within_f64(const double *x, size_t n, double lo, double hi)


cdef extern from "nnf_norm.h" nogil:
    void nnf_batch_norm_forward_f32(const float *x, size_t n, size_t d, const float *gamma,
                                    const float *beta, double eps, float *y, float *mean,
                                    float *inv_std, int nthreads)
    void nnf_batch_norm_forward_f64(const double *x, size_t n, size_t d, const double *gamma,
                                    const double *beta, double eps, double *y, double *mean,
                                    double *inv_std, int nthreads)
    void nnf_batch_norm_inference_f32(const float *x, size_t n, size_t d, const float *gamma,
                                      const float *beta, const float *moving_mean,
                                      const float *moving_var, double eps, float *y,
                                      int nthreads)
    void nnf_batch_norm_inference_f64(const double *x, size_t n, size_t d, const double *gamma,
                                      const double *beta, const double *moving_mean,
                                      const double *moving_var, double eps, double *y,
                                      int nthreads)
    void nnf_batch_norm_update_moving_f32(size_t d, const float *mean, const float *inv_std,
                                          double eps, double momentum, float *moving_mean,
                                          float *moving_var)
    void nnf_batch_norm_update_moving_f64(size_t d, const double *mean, const double *inv_std,
                                          double eps, double momentum, double *moving_mean,
                                          double *moving_var)
    void nnf_batch_norm_backward_f32(const float *dy, const float *x, size_t n, size_t d,
                                     const float *gamma, const float *mean,
                                     const float *inv_std, float *dx, float *dgamma,
                                     float *dbeta, int nthreads)
    void nnf_batch_norm_backward_f64(const double *dy, const double *x, size_t n, size_t d,
                                     const double *gamma, const double *mean,
                                     const double *inv_std, double *dx, double *dgamma,
                                     double *dbeta, int nthreads)
    void nnf_layer_norm_forward_f32(const float *x, size_t n, size_t d, const float *gamma,
                                    const float *beta, double eps, float *y, float *mean,
                                    float *inv_std, int nthreads)
    void nnf_layer_norm_forward_f64(const double *x, size_t n, size_t d, const double *gamma,
                                    const double *beta, double eps, double *y, double *mean,
                                    double *inv_std, int nthreads)
    void nnf_layer_norm_backward_f32(const float *dy, const float *x, size_t n, size_t d,
                                     const float *gamma, const float *mean,
                                     const float *inv_std, float *dx, float *dgamma,
                                     float *dbeta, int nthreads)
    void nnf_layer_norm_backward_f64(const double *dy, const double *x, size_t n, size_t d,
                                     const double *gamma, const double *mean,
                                     const double *inv_std, double *dx, double *dgamma,
                                     double *dbeta, int nthreads)
    uint64_t nnf_dropout_bits(uint64_t seed, uint64_t p)
    void nnf_dropout_forward_f32(const float *x, size_t size, double rate, uint64_t seed,
                                 float *y, float *mask, int nthreads)
    void nnf_dropout_forward_f64(const double *x, size_t size, double rate, uint64_t seed,
                                 double *y, double *mask, int nthreads)
    void nnf_dropout_backward_f32(const float *dy, const float *mask, size_t size, float *dx,
                                  int nthreads)
    void nnf_dropout_backward_f64(const double *dy, const double *mask, size_t size,
                                  double *dx, int nthreads)
    void nnf_gather_rows_f32(const float *x, ptrdiff_t row_stride, ptrdiff_t col_stride,
                             size_t d, const int64_t *idx, size_t n_out, float *out,
                             int nthreads)
    void nnf_gather_rows_f64(const double *x, ptrdiff_t row_stride, ptrdiff_t col_stride,
                             size_t d, const int64_t *idx, size_t n_out, double *out,
                             int nthreads)


def batch_norm_forward(const floating[:, ::1] x, const floating[::1] gamma,
                       const floating[::1] beta, double eps, floating[:, ::1] y,
                       floating[::1] mean, floating[::1] inv_std, int nthreads):
    """Training-mode batch norm of ``x`` (n >= 1, d >= 1) into ``y``, ``mean``, ``inv_std``."""
    cdef size_t n = x.shape[0], d = x.shape[1]
    with nogil:
        if floating is float:
            nnf_batch_norm_forward_f32(&x[0, 0], n, d, &gamma[0], &beta[0], eps, &y[0, 0],
                                       &mean[0], &inv_std[0], nthreads)
        else:
            nnf_batch_norm_forward_f64(&x[0, 0], n, d, &gamma[0], &beta[0], eps, &y[0, 0],
                                       &mean[0], &inv_std[0], nthreads)


def batch_norm_inference(const floating[:, ::1] x, const floating[::1] gamma,
                         const floating[::1] beta, const floating[::1] moving_mean,
                         const floating[::1] moving_variance, double eps,
                         floating[:, ::1] y, int nthreads):
    """Inference-mode batch norm of ``x`` (n >= 1, d >= 1) into ``y``."""
    cdef size_t n = x.shape[0], d = x.shape[1]
    with nogil:
        if floating is float:
            nnf_batch_norm_inference_f32(&x[0, 0], n, d, &gamma[0], &beta[0], &moving_mean[0],
                                         &moving_variance[0], eps, &y[0, 0], nthreads)
        else:
            nnf_batch_norm_inference_f64(&x[0, 0], n, d, &gamma[0], &beta[0], &moving_mean[0],
                                         &moving_variance[0], eps, &y[0, 0], nthreads)


def batch_norm_update_moving(const floating[::1] mean, const floating[::1] inv_std, double eps,
                             double momentum, floating[::1] moving_mean,
                             floating[::1] moving_variance):
    """Batch norm's moving statistics, in place, from a training forward's ``mean`` and
    ``inv_std`` (all of one length d): Keras's momentum convention (see nnf_norm.h)."""
    cdef size_t d = mean.shape[0]
    if d == 0:
        return
    with nogil:
        if floating is float:
            nnf_batch_norm_update_moving_f32(d, &mean[0], &inv_std[0], eps, momentum,
                                             &moving_mean[0], &moving_variance[0])
        else:
            nnf_batch_norm_update_moving_f64(d, &mean[0], &inv_std[0], eps, momentum,
                                             &moving_mean[0], &moving_variance[0])


def batch_norm_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                        const floating[::1] gamma, const floating[::1] mean,
                        const floating[::1] inv_std, floating[:, ::1] dx,
                        floating[::1] dgamma, floating[::1] dbeta, int nthreads):
    """Training-mode batch norm backward (n >= 1, d >= 1); ``dx`` may be ``dy``."""
    cdef size_t n = x.shape[0], d = x.shape[1]
    with nogil:
        if floating is float:
            nnf_batch_norm_backward_f32(&dy[0, 0], &x[0, 0], n, d, &gamma[0], &mean[0],
                                        &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0], nthreads)
        else:
            nnf_batch_norm_backward_f64(&dy[0, 0], &x[0, 0], n, d, &gamma[0], &mean[0],
                                        &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0], nthreads)


def layer_norm_forward(const floating[:, ::1] x, const floating[::1] gamma,
                       const floating[::1] beta, double eps, floating[:, ::1] y,
                       floating[::1] mean, floating[::1] inv_std, int nthreads):
    """Layer norm of ``x`` (n >= 1, d >= 1) into ``y``, ``mean``, ``inv_std``."""
    cdef size_t n = x.shape[0], d = x.shape[1]
    with nogil:
        if floating is float:
            nnf_layer_norm_forward_f32(&x[0, 0], n, d, &gamma[0], &beta[0], eps, &y[0, 0],
                                       &mean[0], &inv_std[0], nthreads)
        else:
            nnf_layer_norm_forward_f64(&x[0, 0], n, d, &gamma[0], &beta[0], eps, &y[0, 0],
                                       &mean[0], &inv_std[0], nthreads)


def layer_norm_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                        const floating[::1] gamma, const floating[::1] mean,
                        const floating[::1] inv_std, floating[:, ::1] dx,
                        floating[::1] dgamma, floating[::1] dbeta, int nthreads):
    """Layer norm backward (n >= 1, d >= 1); ``dx`` may be ``dy``."""
    cdef size_t n = x.shape[0], d = x.shape[1]
    with nogil:
        if floating is float:
            nnf_layer_norm_backward_f32(&dy[0, 0], &x[0, 0], n, d, &gamma[0], &mean[0],
                                        &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0], nthreads)
        else:
            nnf_layer_norm_backward_f64(&dy[0, 0], &x[0, 0], n, d, &gamma[0], &mean[0],
                                        &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0], nthreads)


def dropout_bits(uint64_t seed, uint64_t p):
    """The 64 random bits dropout draws for elements ``2p`` (low half) and ``2p+1`` (high half)."""
    return nnf_dropout_bits(seed, p)


def dropout_forward(const floating[::1] x, double rate, uint64_t seed, floating[::1] y,
                    floating[::1] mask, int nthreads):
    """Inverted dropout over the flat, non-empty ``x`` into ``y`` (may be ``x``) and ``mask``."""
    cdef size_t size = x.shape[0]
    with nogil:
        if floating is float:
            nnf_dropout_forward_f32(&x[0], size, rate, seed, &y[0], &mask[0], nthreads)
        else:
            nnf_dropout_forward_f64(&x[0], size, rate, seed, &y[0], &mask[0], nthreads)


def dropout_backward(const floating[::1] dy, const floating[::1] mask, floating[::1] dx,
                     int nthreads):
    """``dx = dy * mask`` over flat, non-empty arrays; ``dx`` may be ``dy``."""
    cdef size_t size = dy.shape[0]
    with nogil:
        if floating is float:
            nnf_dropout_backward_f32(&dy[0], &mask[0], size, &dx[0], nthreads)
        else:
            nnf_dropout_backward_f64(&dy[0], &mask[0], size, &dx[0], nthreads)


def gather_rows(const floating[:, :] x, const int64_t[::1] idx, floating[:, ::1] out,
                int nthreads):
    """``out[r] = x[idx[r]]`` for a non-empty ``out``; ``x`` in any layout (element strides).

    Every index is in ``[0, x.shape[0])`` and both strides of ``x`` are whole elements.
    """
    cdef size_t n_out = out.shape[0], d = out.shape[1]
    cdef ptrdiff_t rs = x.strides[0] // <ptrdiff_t>sizeof(floating)
    cdef ptrdiff_t cs = x.strides[1] // <ptrdiff_t>sizeof(floating)
    with nogil:
        if floating is float:
            nnf_gather_rows_f32(&x[0, 0], rs, cs, d, &idx[0], n_out, &out[0, 0], nthreads)
        else:
            nnf_gather_rows_f64(&x[0, 0], rs, cs, d, &idx[0], n_out, &out[0, 0], nthreads)


def shuffled_range(object bit_generator, int64_t[::1] order):
    """``order[:] = 0, 1, ..., n-1`` shuffled in place: the permutation, and the bit generator's
    next state, that ``Generator(bit_generator).shuffle(np.arange(n))`` gives (numpy's
    Fisher-Yates, last position first, drawing with numpy's own ``random_interval``).

    Without most of NumPy's per-call costs (its argument handling and a swap buffer): 150 rows
    in 2.8 us against 4.5, on every epoch of a small fit. ``fit``'s results stay those of
    ``Generator.shuffle`` (``tests/test_shuffle.py`` compares the two).
    """
    cdef bitgen_t *rng = <bitgen_t *>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")
    cdef Py_ssize_t n = order.shape[0], i, j
    cdef int64_t tmp
    with bit_generator.lock:
        with nogil:
            for i in range(n):
                order[i] = i
            for i in range(n - 1, 0, -1):
                j = <Py_ssize_t>random_interval(rng, <uint64_t>i)
                tmp = order[j]
                order[j] = order[i]
                order[i] = tmp


def first_out_of_range(const int64_t[::1] idx, int64_t n):
    """Position of the first index outside ``[0, n)``, or -1 when all are inside."""
    cdef Py_ssize_t i, size = idx.shape[0], bad = -1
    with nogil:
        for i in range(size):
            if idx[i] < 0 or idx[i] >= n:
                bad = i
                break
    return bad


def all_finite_f32(const float[::1] x, int nthreads):
    """Whether ``x`` holds no NaN and no infinity. One typed function per dtype: a fused one's
    dispatch measured 0.69 against 0.32 us a call, as much again as checking a batch-1 row."""
    cdef size_t n = x.shape[0]
    cdef int ok = 1
    if n:
        with nogil:
            ok = nnf_all_finite_f32(&x[0], n, nthreads)
    return ok != 0


def all_finite_f64(const double[::1] x, int nthreads):
    """Whether ``x`` holds no NaN and no infinity."""
    cdef size_t n = x.shape[0]
    cdef int ok = 1
    if n:
        with nogil:
            ok = nnf_all_finite_f64(&x[0], n, nthreads)
    return ok != 0


def all_within_f32(const float[::1] x, float lo, float hi):
    """Whether every value of ``x`` lies in ``[lo, hi]`` (NaN does not), on one thread."""
    cdef size_t n = x.shape[0]
    cdef int ok = 1
    if n:
        with nogil:
            ok = nnf_all_within_f32(&x[0], n, lo, hi)
    return ok != 0


def all_within_f64(const double[::1] x, double lo, double hi):
    """Whether every value of ``x`` lies in ``[lo, hi]`` (NaN does not), on one thread."""
    cdef size_t n = x.shape[0]
    cdef int ok = 1
    if n:
        with nogil:
            ok = nnf_all_within_f64(&x[0], n, lo, hi)
    return ok != 0
