# distutils: sources = csrc/nnf_loss.c
"""Fused losses: each kernel writes dL/d(input) and returns the summed (weighted) loss.

Thin typed wrappers over ``csrc/nnf_loss.c``. The ops layer (``nnfast/_ops/losses.py``) has
checked every shape, dtype, label range and aliasing, excluded empty batches and made all arrays
C-contiguous: nothing is checked here. ``w`` (sample weights) may be None. ``scale`` is 1/N (N
the mean's count); the gradient is written already scaled by it. Every function returns
``sum_i w_i * l_i`` (a double) and takes the thread count last.
"""

from cython cimport floating
from libc.stdint cimport intptr_t


cdef extern from "nnf_loss.h" nogil:
    int nnf_softmax_xent_f32(size_t n, size_t c, const float *z, const intptr_t *labels,
                             const float *w, float eps, float scale, float *g,
                             double *loss_sum, int nthreads)
    int nnf_softmax_xent_f64(size_t n, size_t c, const double *z, const intptr_t *labels,
                             const double *w, double eps, double scale, double *g,
                             double *loss_sum, int nthreads)
    int nnf_categorical_xent_f32(size_t n, size_t c, const float *z, const float *t,
                                 const float *w, float eps, float scale, float *g,
                                 double *loss_sum, int nthreads)
    int nnf_categorical_xent_f64(size_t n, size_t c, const double *z, const double *t,
                                 const double *w, double eps, double scale, double *g,
                                 double *loss_sum, int nthreads)
    int nnf_probs_xent_sparse_f32(size_t n, size_t c, const float *p, const intptr_t *labels,
                                  const float *w, float clip, float scale, float *g,
                                  double *loss_sum, int nthreads)
    int nnf_probs_xent_sparse_f64(size_t n, size_t c, const double *p, const intptr_t *labels,
                                  const double *w, double clip, double scale, double *g,
                                  double *loss_sum, int nthreads)
    int nnf_probs_xent_dense_f32(size_t n, size_t k, const float *p, const float *t,
                                 const float *w, float clip, float scale, float *g,
                                 double *loss_sum, int nthreads)
    int nnf_probs_xent_dense_f64(size_t n, size_t k, const double *p, const double *t,
                                 const double *w, double clip, double scale, double *g,
                                 double *loss_sum, int nthreads)
    int nnf_binary_xent_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                            float eps, float clip, float scale, float *g, double *loss_sum,
                            int nthreads)
    int nnf_binary_xent_f64(size_t n, size_t k, const double *p, const double *t,
                            const double *w, double eps, double clip, double scale, double *g,
                            double *loss_sum, int nthreads)
    int nnf_sigmoid_xent_f32(size_t n, size_t k, const float *x, const float *t,
                             const float *w, float eps, float scale, float *g,
                             double *loss_sum, int nthreads)
    int nnf_sigmoid_xent_f64(size_t n, size_t k, const double *x, const double *t,
                             const double *w, double eps, double scale, double *g,
                             double *loss_sum, int nthreads)
    int nnf_mse_loss_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                         float scale, float *g, double *loss_sum, int nthreads)
    int nnf_mse_loss_f64(size_t n, size_t k, const double *p, const double *t,
                         const double *w, double scale, double *g, double *loss_sum,
                         int nthreads)
    int nnf_mae_loss_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                         float scale, float *g, double *loss_sum, int nthreads)
    int nnf_mae_loss_f64(size_t n, size_t k, const double *p, const double *t,
                         const double *w, double scale, double *g, double *loss_sum,
                         int nthreads)
    int nnf_huber_loss_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                           float delta, float scale, float *g, double *loss_sum, int nthreads)
    int nnf_huber_loss_f64(size_t n, size_t k, const double *p, const double *t,
                           const double *w, double delta, double scale, double *g,
                           double *loss_sum, int nthreads)


cdef inline const floating *_weights(const floating[::1] w) noexcept:
    if w is None:
        return NULL
    return &w[0]


cdef inline double _checked(int status, double loss_sum) except? -1.0:
    if status != 0:
        raise MemoryError("nnfast losses: could not allocate the block sums of the loss")
    return loss_sum


def softmax_xent(const floating[:, ::1] z, const Py_ssize_t[::1] labels,
                 const floating[::1] w, double eps, double scale, floating[:, ::1] g,
                 int nthreads):
    """Sparse softmax cross-entropy of logits ``z`` (n, c) >= 1 row; gradient into ``g``."""
    cdef size_t n = z.shape[0], c = z.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_softmax_xent_f32(n, c, &z[0, 0], <const intptr_t *>&labels[0], wp,
                                          <float>eps, <float>scale, &g[0, 0], &total, nthreads)
        else:
            status = nnf_softmax_xent_f64(n, c, &z[0, 0], <const intptr_t *>&labels[0], wp,
                                          eps, scale, &g[0, 0], &total, nthreads)
    return _checked(status, total)


def categorical_xent(const floating[:, ::1] z, const floating[:, ::1] t,
                     const floating[::1] w, double eps, double scale, floating[:, ::1] g,
                     int nthreads):
    """Softmax cross-entropy of logits ``z`` (n, c) with dense targets ``t`` (n, c)."""
    cdef size_t n = z.shape[0], c = z.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_categorical_xent_f32(n, c, &z[0, 0], &t[0, 0], wp, <float>eps,
                                              <float>scale, &g[0, 0], &total, nthreads)
        else:
            status = nnf_categorical_xent_f64(n, c, &z[0, 0], &t[0, 0], wp, eps, scale,
                                              &g[0, 0], &total, nthreads)
    return _checked(status, total)


def probs_xent_sparse(const floating[:, ::1] p, const Py_ssize_t[::1] labels,
                      const floating[::1] w, double clip, double scale, floating[:, ::1] g,
                      int nthreads):
    """Cross-entropy of probabilities ``p`` (n, c) with integer labels (n,)."""
    cdef size_t n = p.shape[0], c = p.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_probs_xent_sparse_f32(n, c, &p[0, 0], <const intptr_t *>&labels[0],
                                               wp, <float>clip, <float>scale, &g[0, 0], &total,
                                               nthreads)
        else:
            status = nnf_probs_xent_sparse_f64(n, c, &p[0, 0], <const intptr_t *>&labels[0],
                                               wp, clip, scale, &g[0, 0], &total, nthreads)
    return _checked(status, total)


def probs_xent_dense(const floating[:, ::1] p, const floating[:, ::1] t,
                     const floating[::1] w, double clip, double scale, floating[:, ::1] g,
                     int nthreads):
    """Cross-entropy of probabilities ``p`` (n, c) with dense targets ``t`` (n, c)."""
    cdef size_t n = p.shape[0], k = p.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_probs_xent_dense_f32(n, k, &p[0, 0], &t[0, 0], wp, <float>clip,
                                              <float>scale, &g[0, 0], &total, nthreads)
        else:
            status = nnf_probs_xent_dense_f64(n, k, &p[0, 0], &t[0, 0], wp, clip, scale,
                                              &g[0, 0], &total, nthreads)
    return _checked(status, total)


def binary_xent(const floating[:, ::1] p, const floating[:, ::1] t, const floating[::1] w,
                double eps, double clip, double scale, floating[:, ::1] g, int nthreads):
    """Binary cross-entropy of probabilities ``p`` (n, k), label smoothing ``eps``."""
    cdef size_t n = p.shape[0], k = p.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_binary_xent_f32(n, k, &p[0, 0], &t[0, 0], wp, <float>eps, <float>clip,
                                         <float>scale, &g[0, 0], &total, nthreads)
        else:
            status = nnf_binary_xent_f64(n, k, &p[0, 0], &t[0, 0], wp, eps, clip, scale,
                                         &g[0, 0], &total, nthreads)
    return _checked(status, total)


def sigmoid_xent(const floating[:, ::1] x, const floating[:, ::1] t, const floating[::1] w,
                 double eps, double scale, floating[:, ::1] g, int nthreads):
    """Binary cross-entropy of logits ``x`` (n, k), label smoothing ``eps``."""
    cdef size_t n = x.shape[0], k = x.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_sigmoid_xent_f32(n, k, &x[0, 0], &t[0, 0], wp, <float>eps,
                                          <float>scale, &g[0, 0], &total, nthreads)
        else:
            status = nnf_sigmoid_xent_f64(n, k, &x[0, 0], &t[0, 0], wp, eps, scale, &g[0, 0],
                                          &total, nthreads)
    return _checked(status, total)


def mse_loss(const floating[:, ::1] p, const floating[:, ::1] t, const floating[::1] w,
             double scale, floating[:, ::1] g, int nthreads):
    """Squared error of ``p`` (n, k) against ``t``."""
    cdef size_t n = p.shape[0], k = p.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_mse_loss_f32(n, k, &p[0, 0], &t[0, 0], wp, <float>scale, &g[0, 0],
                                      &total, nthreads)
        else:
            status = nnf_mse_loss_f64(n, k, &p[0, 0], &t[0, 0], wp, scale, &g[0, 0], &total,
                                      nthreads)
    return _checked(status, total)


def mae_loss(const floating[:, ::1] p, const floating[:, ::1] t, const floating[::1] w,
             double scale, floating[:, ::1] g, int nthreads):
    """Absolute error of ``p`` (n, k) against ``t``."""
    cdef size_t n = p.shape[0], k = p.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_mae_loss_f32(n, k, &p[0, 0], &t[0, 0], wp, <float>scale, &g[0, 0],
                                      &total, nthreads)
        else:
            status = nnf_mae_loss_f64(n, k, &p[0, 0], &t[0, 0], wp, scale, &g[0, 0], &total,
                                      nthreads)
    return _checked(status, total)


def huber_loss(const floating[:, ::1] p, const floating[:, ::1] t, const floating[::1] w,
               double delta, double scale, floating[:, ::1] g, int nthreads):
    """Huber loss of ``p`` (n, k) against ``t`` with threshold ``delta``."""
    cdef size_t n = p.shape[0], k = p.shape[1]
    cdef const floating *wp = _weights(w)
    cdef double total = 0.0
    cdef int status
    with nogil:
        if floating is float:
            status = nnf_huber_loss_f32(n, k, &p[0, 0], &t[0, 0], wp, <float>delta,
                                        <float>scale, &g[0, 0], &total, nthreads)
        else:
            status = nnf_huber_loss_f64(n, k, &p[0, 0], &t[0, 0], wp, delta, scale, &g[0, 0],
                                        &total, nthreads)
    return _checked(status, total)


def first_bad_label(const Py_ssize_t[::1] labels, Py_ssize_t n_classes):
    """Index of the first label outside ``[0, n_classes)``, or -1 when all are in range."""
    cdef Py_ssize_t i, n = labels.shape[0], bad = -1
    with nogil:
        for i in range(n):
            if labels[i] < 0 or labels[i] >= n_classes:
                bad = i
                break
    return bad
