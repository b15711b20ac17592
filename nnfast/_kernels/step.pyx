# distutils: sources = csrc/nnf_mlp.c csrc/nnf_act.c csrc/nnf_loss.c csrc/nnf_optim.c csrc/nnf_norm.c csrc/nnf_gemm.c csrc/nnf_sgemm.c csrc/nnf_check.c
"""The compiled whole-step training plan: many mini-batch steps, a forward pass or an
evaluation, in one call.

``MLPKernel`` holds the C description of a network (``nnf_mlp_plan``: layers, loss, optimizer,
work-buffer offsets); ``Trainer`` and ``Forward`` run it with the GIL released over buffers the
caller owns. ``nnfast/_plan.py`` builds the description from a compiled ``Sequential`` and has
checked every size, dtype and offset: nothing is checked here beyond the typed buffers' own
dtype and layout, except by ``Forward.serve``, which tests whether its input is the serving
case before it computes. GEMMs go through SciPy's BLAS
(``scipy.linalg.cython_blas``) or, after :func:`use_gemm64`, NumPy's ILP64 OpenBLAS
(``nnfast._blas`` chooses at import), passed to C as function pointers.
"""

from libc.stdint cimport int64_t, intptr_t, uint64_t
from libc.stdlib cimport calloc, free
from scipy.linalg.cython_blas cimport dgemm, sgemm

import numpy as np

_F64 = np.dtype(np.float64)  # (Forward.serve's cast case: dtype identity, no comparison)


cdef extern from "nnf_check.h" nogil:
    int nnf_all_finite_f32(const float *x, size_t n, int nthreads)
    int nnf_all_finite_f64(const double *x, size_t n, int nthreads)


cdef extern from "nnf_mlp.h" nogil:
    ctypedef void (*nnf_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                                  float *, int *, float *, float *, int *)
    ctypedef void (*nnf_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                                  int *, double *, int *, double *, double *, int *)
    size_t NNF_MLP_NONE

    ctypedef struct nnf_mlp_layer:
        int kind, act, act_infer, keeps_z, grad, backward, dx, batch_stats
        size_t in_ "in"
        size_t out, w, b, y, dy, z, mask, stats, moving_mean, moving_var
        double rate, epsilon, momentum, kernel_l1, kernel_l2, bias_l1, bias_l2

    ctypedef struct nnf_mlp_plan:
        size_t n_layers
        const nnf_mlp_layer *layers
        size_t cap, in_dim, out_dim, xbuf, tbuf, wbuf
        int loss
        double loss_param
        int metric, opt
        double beta_1, beta_2, epsilon, weight_decay, momentum, rho
        int nesterov, decoupled
        size_t n_runs
        const size_t *runs
        size_t widest
        int clip
        double clip_max, clip_eps
        size_t n_tensors
        const size_t *tensors

    int nnf_mlp_train_f32(const nnf_mlp_plan *p, nnf_sgemm_fn gemm, float *params, float *grads,
                          float *state, float *s1, float *s2, float *work, double *dscratch, intptr_t *lbuf,
                          const float *X, const float *T, const intptr_t *labels, const float *W,
                          const int64_t *order, size_t n_rows, size_t batch, size_t first_batch,
                          size_t n_steps, long long iteration, const double *lrs,
                          const uint64_t *seeds, double *losses, double *correct, float *outs,
                          int nthreads)
    int nnf_mlp_train_f64(const nnf_mlp_plan *p, nnf_dgemm_fn gemm, double *params,
                          double *grads, double *state, double *s1, double *s2, double *work, double *dscratch,
                          intptr_t *lbuf, const double *X, const double *T,
                          const intptr_t *labels, const double *W, const int64_t *order,
                          size_t n_rows, size_t batch, size_t first_batch, size_t n_steps,
                          long long iteration, const double *lrs, const uint64_t *seeds,
                          double *losses, double *correct, double *outs, int nthreads)
    int nnf_mlp_evaluate_f32(const nnf_mlp_plan *p, nnf_sgemm_fn gemm, const float *params,
                             const float *state, float *buf_a, float *buf_b, float *buf_z,
                             float *buf_s, size_t rows, const float *X, const float *T,
                             const intptr_t *labels, const float *W, size_t m, float *out,
                             int logits, float *g, double *loss, double *correct)
    int nnf_mlp_evaluate_f64(const nnf_mlp_plan *p, nnf_dgemm_fn gemm, const double *params,
                             const double *state, double *buf_a, double *buf_b, double *buf_z,
                             double *buf_s, size_t rows, const double *X, const double *T,
                             const intptr_t *labels, const double *W, size_t m, double *out,
                             int logits, double *g, double *loss, double *correct)
    void nnf_mlp_predict_f32(const nnf_mlp_plan *p, nnf_sgemm_fn gemm, const float *params,
                             const float *state, float *buf_a, float *buf_b, float *buf_z,
                             float *buf_s, size_t rows, const float *X, size_t n, float *out,
                             int logits, int nthreads)
    void nnf_mlp_predict_f64(const nnf_mlp_plan *p, nnf_dgemm_fn gemm, const double *params,
                             const double *state, double *buf_a, double *buf_b, double *buf_z,
                             double *buf_s, size_t rows, const double *X, size_t n,
                             double *out, int logits, int nthreads)


NONE = <Py_ssize_t>NNF_MLP_NONE  # "no such buffer" offset (as a Python int: -1)

_LAYER_FIELDS = ("kind", "act", "act_infer", "keeps_z", "grad", "backward", "dx", "batch_stats",
                 "in", "out", "w", "b", "y", "dy", "z", "mask", "stats", "moving_mean",
                 "moving_var", "rate", "epsilon", "momentum", "kernel_l1", "kernel_l2",
                 "bias_l1", "bias_l2")
_PLAN_FIELDS = ("cap", "in_dim", "out_dim", "xbuf", "tbuf", "wbuf", "loss", "loss_param",
                "metric", "opt", "beta_1", "beta_2", "epsilon", "weight_decay", "momentum",
                "rho", "nesterov", "decoupled")


cdef size_t _offset(value):
    return NNF_MLP_NONE if value is None or value < 0 else <size_t>value


from nnfast._kernels._gemm cimport nnf_gemm_choose, nnf_sgemm_set_threads

# The GEMMs every plan calls: SciPy's unless use_gemm64 switched them (once, at import).
cdef nnf_sgemm_fn _sgemm = <nnf_sgemm_fn>sgemm
cdef nnf_dgemm_fn _dgemm = <nnf_dgemm_fn>dgemm


def use_gemm64(intptr_t sgemm64, intptr_t dgemm64, bint own_sgemm=False, int isa=-1):
    """Route the plans' GEMMs as :func:`nnfast._kernels.blas.use_gemm64` routes ``gemm`` (this
    extension holds its own copy of the choice)."""
    global _sgemm, _dgemm
    cdef void *s
    cdef void *d
    own = nnf_gemm_choose(<void *>sgemm64, <void *>dgemm64, <void *>sgemm, <void *>dgemm,
                          own_sgemm, isa, &s, &d)
    _sgemm, _dgemm = <nnf_sgemm_fn>s, <nnf_dgemm_fn>d
    return bool(own)


def set_gemm_threads(int nthreads):
    """Threads nnfast's own GEMM may use outside a parallel region."""
    nnf_sgemm_set_threads(nthreads)


cdef class MLPKernel:
    """The C plan of a network. ``layers``: dicts with the keys of ``nnf_mlp_layer``
    (offsets None or -1 for absent buffers); ``plan``: a dict with the scalar keys of
    ``nnf_mlp_plan``; ``runs``: [(lo, hi)] trainable spans of the flat parameter buffer;
    ``tensors``: [(lo, hi)] the trainable tensors (per-tensor clipping)."""

    cdef nnf_mlp_plan plan
    cdef nnf_mlp_layer *layers
    cdef size_t *runs
    cdef size_t *tensors

    def __cinit__(self, list layers, dict plan, list runs, list tensors=None):
        cdef size_t i
        tensors = [] if tensors is None else tensors
        self.layers = <nnf_mlp_layer *>calloc(max(1, len(layers)), sizeof(nnf_mlp_layer))
        self.runs = <size_t *>calloc(max(1, 2 * len(runs)), sizeof(size_t))
        self.tensors = <size_t *>calloc(max(1, 2 * len(tensors)), sizeof(size_t))
        if self.layers == NULL or self.runs == NULL or self.tensors == NULL:
            raise MemoryError("MLPKernel: could not allocate the plan")
        for i, d in enumerate(layers):
            self.layers[i].kind = d["kind"]
            self.layers[i].act = d["act"]
            self.layers[i].act_infer = d["act_infer"]
            self.layers[i].keeps_z = d["keeps_z"]
            self.layers[i].grad = d["grad"]
            self.layers[i].backward = d["backward"]
            self.layers[i].dx = d["dx"]
            self.layers[i].batch_stats = d["batch_stats"]
            self.layers[i].in_ = d["in"]
            self.layers[i].out = d["out"]
            self.layers[i].w = _offset(d["w"])
            self.layers[i].b = _offset(d["b"])
            self.layers[i].y = _offset(d["y"])
            self.layers[i].dy = _offset(d["dy"])
            self.layers[i].z = _offset(d["z"])
            self.layers[i].mask = _offset(d["mask"])
            self.layers[i].stats = _offset(d["stats"])
            self.layers[i].moving_mean = _offset(d["moving_mean"])
            self.layers[i].moving_var = _offset(d["moving_var"])
            self.layers[i].rate = d["rate"]
            self.layers[i].epsilon = d["epsilon"]
            self.layers[i].momentum = d["momentum"]
            self.layers[i].kernel_l1 = d["kernel_l1"]
            self.layers[i].kernel_l2 = d["kernel_l2"]
            self.layers[i].bias_l1 = d["bias_l1"]
            self.layers[i].bias_l2 = d["bias_l2"]
        for i, (lo, hi) in enumerate(runs):
            self.runs[2 * i] = lo
            self.runs[2 * i + 1] = hi
        self.plan.n_layers = len(layers)
        self.plan.layers = self.layers
        self.plan.n_runs = len(runs)
        self.plan.runs = self.runs
        self.plan.cap = plan["cap"]
        self.plan.in_dim = plan["in_dim"]
        self.plan.out_dim = plan["out_dim"]
        self.plan.xbuf = _offset(plan["xbuf"])
        self.plan.tbuf = _offset(plan["tbuf"])
        self.plan.wbuf = _offset(plan["wbuf"])
        self.plan.loss = plan["loss"]
        self.plan.loss_param = plan["loss_param"]
        self.plan.metric = plan["metric"]
        self.plan.opt = plan["opt"]
        self.plan.beta_1 = plan["beta_1"]
        self.plan.beta_2 = plan["beta_2"]
        self.plan.epsilon = plan["epsilon"]
        self.plan.weight_decay = plan["weight_decay"]
        self.plan.momentum = plan["momentum"]
        self.plan.rho = plan["rho"]
        self.plan.nesterov = plan["nesterov"]
        self.plan.decoupled = plan["decoupled"]
        self.plan.widest = plan.get("widest", 0)
        for i, (lo, hi) in enumerate(tensors):
            self.tensors[2 * i] = lo
            self.tensors[2 * i + 1] = hi
        self.plan.n_tensors = len(tensors)
        self.plan.tensors = self.tensors
        self.plan.clip = plan.get("clip", 0)
        self.plan.clip_max = plan.get("clip_max", 0.0)
        self.plan.clip_eps = plan.get("clip_eps", 0.0)

    def __dealloc__(self):
        free(self.layers)
        free(self.runs)
        free(self.tensors)


cdef class Trainer:
    """A plan's training steps bound to its parameter, gradient, state, optimizer-slot and
    scratch arrays (see ``nnf_mlp_train`` in nnf_mlp.h), so that a call acquires only the
    batch's arrays: a plain function taking all of them, through the fused-type dispatch, cost
    ~9 us of a 30-64-64-1 ``train_on_batch`` whose C step is ~20 us.

    ``state`` (empty or None without batch norm), ``s1`` and ``s2`` may be None. It keeps the
    arrays alive; the owner rebinds when any of them is replaced.
    """
    cdef MLPKernel kernel
    cdef readonly object params, grads, state, s1, s2, buffers
    cdef void *p_params
    cdef void *p_grads
    cdef void *p_state
    cdef void *p_s1
    cdef void *p_s2
    cdef void *p_work
    cdef double *p_dscratch
    cdef intptr_t *p_lbuf
    cdef bint f32

    def __cinit__(self, MLPKernel kernel, params, grads, state, s1, s2, work,
                  double[::1] dscratch not None, Py_ssize_t[::1] lbuf not None):
        self.kernel = kernel
        self.f32 = params.dtype.itemsize == 4
        self.params, self.grads, self.state, self.s1, self.s2 = params, grads, state, s1, s2
        self.buffers = (work, dscratch.base, lbuf.base)
        self.p_params = _address(params, self.f32)
        self.p_grads = _address(grads, self.f32)
        self.p_state = _address(state, self.f32)
        self.p_s1 = _address(s1, self.f32)
        self.p_s2 = _address(s2, self.f32)
        self.p_work = _address(work, self.f32)
        self.p_dscratch = &dscratch[0]
        self.p_lbuf = <intptr_t *>&lbuf[0]

    def __call__(self, X, T, const Py_ssize_t[::1] labels, W, const int64_t[::1] order,
                 size_t batch, size_t first_batch, size_t n_steps, long long iteration,
                 const double[::1] lrs not None, const uint64_t[::1] seeds,
                 double[::1] losses not None, double[::1] correct, int nthreads, outs=None):
        """Run ``n_steps`` training steps; returns the C status. ``T``, ``labels``, ``W``,
        ``order``, ``seeds``, ``correct`` and ``outs`` may be None."""
        cdef const float[:, ::1] x32
        cdef const float[:, ::1] t32
        cdef const float[::1] w32
        cdef float[::1] o32
        cdef const double[:, ::1] x64
        cdef const double[:, ::1] t64
        cdef const double[::1] w64
        cdef double[::1] o64
        cdef const intptr_t *lp = NULL if labels is None else <const intptr_t *>&labels[0]
        cdef const int64_t *op = NULL if order is None else &order[0]
        cdef const uint64_t *sp = NULL if seeds is None or seeds.shape[0] == 0 else &seeds[0]
        cdef double *cp = NULL if correct is None else &correct[0]
        cdef int status
        if self.f32:
            x32 = X
            t32, w32, o32 = T, W, outs
            with nogil:
                status = nnf_mlp_train_f32(
                    &self.kernel.plan, _sgemm, <float *>self.p_params, <float *>self.p_grads,
                    <float *>self.p_state, <float *>self.p_s1, <float *>self.p_s2,
                    <float *>self.p_work, self.p_dscratch, self.p_lbuf, &x32[0, 0],
                    NULL if t32 is None else &t32[0, 0], lp, NULL if w32 is None else &w32[0],
                    op, x32.shape[0], batch, first_batch, n_steps, iteration, &lrs[0], sp,
                    &losses[0], cp, NULL if o32 is None else &o32[0], nthreads)
        else:
            x64 = X
            t64, w64, o64 = T, W, outs
            with nogil:
                status = nnf_mlp_train_f64(
                    &self.kernel.plan, _dgemm, <double *>self.p_params, <double *>self.p_grads,
                    <double *>self.p_state, <double *>self.p_s1, <double *>self.p_s2,
                    <double *>self.p_work, self.p_dscratch, self.p_lbuf, &x64[0, 0],
                    NULL if t64 is None else &t64[0, 0], lp, NULL if w64 is None else &w64[0],
                    op, x64.shape[0], batch, first_batch, n_steps, iteration, &lrs[0], sp,
                    &losses[0], cp, NULL if o64 is None else &o64[0], nthreads)
        return status


cdef void *_address(object a, bint f32) except? NULL:
    """Address of a 1-D C-contiguous float32/float64 array's first element (NULL if empty)."""
    cdef float[::1] a32
    cdef double[::1] a64
    if a is None or len(a) == 0:
        return NULL
    if f32:
        a32 = a
        return <void *>&a32[0]
    a64 = a
    return <void *>&a64[0]


cdef class Forward:
    """A plan's inference pass bound to its parameter, state and scratch arrays, so that a call
    acquires only ``X`` and ``out`` (batch-1 latency: the six other memoryviews and the fused-type
    dispatch of a plain function cost ~3 us per call).

    It keeps the arrays alive; the owner rebinds when any of them is replaced.
    """
    cdef MLPKernel kernel
    cdef readonly object params, state, buffers
    cdef void *p_params
    cdef void *p_state
    cdef void *p_a
    cdef void *p_b
    cdef void *p_z
    cdef void *p_s
    cdef size_t rows
    cdef bint f32

    def __cinit__(self, MLPKernel kernel, params, state, buf_a, buf_b, buf_z, buf_s, size_t rows):
        self.kernel = kernel
        self.f32 = params.dtype.itemsize == 4
        self.params, self.state, self.buffers = params, state, (buf_a, buf_b, buf_z, buf_s)
        self.p_params = _address(params, self.f32)
        self.p_state = _address(state, self.f32)
        self.p_a = _address(buf_a, self.f32)
        self.p_b = _address(buf_b, self.f32)
        self.p_z = _address(buf_z, self.f32)
        self.p_s = _address(buf_s, self.f32)
        self.rows = rows

    cdef int _run(self, const void *x, size_t n, void *out, bint check_finite,
                  bint logits) noexcept nogil:
        """``out := network(x)`` for n rows (pointers of the bound dtype, width in_dim and
        out_dim); 0, computing nothing, when ``check_finite`` finds a NaN or an infinity."""
        cdef size_t size = n * self.kernel.plan.in_dim
        if self.f32:
            if check_finite and not nnf_all_finite_f32(<const float *>x, size, 1):
                return 0
            nnf_mlp_predict_f32(
                &self.kernel.plan, _sgemm, <float *>self.p_params, <float *>self.p_state,
                <float *>self.p_a, <float *>self.p_b, <float *>self.p_z, <float *>self.p_s,
                self.rows, <const float *>x, n, <float *>out, logits, 1)
        else:
            if check_finite and not nnf_all_finite_f64(<const double *>x, size, 1):
                return 0
            nnf_mlp_predict_f64(
                &self.kernel.plan, _dgemm, <double *>self.p_params, <double *>self.p_state,
                <double *>self.p_a, <double *>self.p_b, <double *>self.p_z, <double *>self.p_s,
                self.rows, <const double *>x, n, <double *>out, logits, 1)
        return 1

    def serve(self, X):
        """``network(X)`` for ``Sequential.predict``'s serving case, X checked for NaN and
        infinity in the same nogil call: a new (n, out_dim) array; None when X is not finite;
        False, computing nothing, when X is not an ndarray of the bound dtype (or float64 for
        a float32 plan), C-contiguous, 2-D, of 1 to ``rows`` rows of the plan's width (the
        caller takes its checked path).

        These checks made in Python cost ~1 us of a 2.7 us batch-1 predict (30-64-64-1). A
        float64 X (NumPy's default) for a float32 plan is cast to float32 in the same call,
        as the checked path's ``np.ascontiguousarray(X, dtype=np.float32)`` would (the same
        round-to-nearest cast), and the cast values are what is checked for finiteness.
        """
        cdef const float[:, ::1] x32
        cdef float[:, ::1] o32
        cdef float[:, ::1] c32
        cdef const double[:, ::1] x64
        cdef double[:, ::1] o64
        cdef size_t n, d, i
        cdef const void *xp
        cdef void *op
        cdef const double *src = NULL
        cdef float *dst = NULL
        cdef int finite
        cdef bint cast
        if type(X) is not np.ndarray:
            return False
        cast = self.f32 and X.dtype is _F64
        try:
            if self.f32 and not cast:
                x32 = X
                n, d = x32.shape[0], x32.shape[1]
            else:
                x64 = X
                n, d = x64.shape[0], x64.shape[1]
        except (ValueError, TypeError, BufferError):  # another dtype or layout
            return False
        if n == 0 or n > self.rows or d != self.kernel.plan.in_dim:
            return False
        out = np.empty((n, self.kernel.plan.out_dim), np.float32 if self.f32 else np.float64)
        if self.f32:
            o32 = out
            op = &o32[0, 0]
            if cast:
                converted = np.empty((n, d), np.float32)
                c32 = converted
                src, dst = &x64[0, 0], &c32[0, 0]
                xp = dst
            else:
                xp = &x32[0, 0]
        else:
            o64 = out
            xp, op = &x64[0, 0], &o64[0, 0]
        with nogil:
            if dst != NULL:
                for i in range(n * d):
                    dst[i] = <float>src[i]
            finite = self._run(xp, n, op, True, False)
        return out if finite else None

    def evaluate(self, X, T, const Py_ssize_t[::1] labels, W, out, grad, bint logits,
                 bint count):
        """``(mean loss, correct count or None)`` of X's rows against T or labels with weights
        W (None: ones), as a training step computes them; the outputs (logits with
        ``logits``) are left in ``out`` and the loss's gradient in ``grad`` (both (n,
        out_dim)). The caller has checked the shapes and the labels' range."""
        cdef const float[:, ::1] x32
        cdef const float[:, ::1] t32
        cdef const float[::1] w32
        cdef float[:, ::1] o32
        cdef float[:, ::1] g32
        cdef const double[:, ::1] x64
        cdef const double[:, ::1] t64
        cdef const double[::1] w64
        cdef double[:, ::1] o64
        cdef double[:, ::1] g64
        cdef const intptr_t *lp = NULL if labels is None else <const intptr_t *>&labels[0]
        cdef double loss = 0.0, correct = 0.0
        cdef double *cp = &correct if count else NULL
        cdef int status
        if self.f32:
            x32, t32, w32, o32, g32 = X, T, W, out, grad
            with nogil:
                status = nnf_mlp_evaluate_f32(
                    &self.kernel.plan, _sgemm, <float *>self.p_params, <float *>self.p_state,
                    <float *>self.p_a, <float *>self.p_b, <float *>self.p_z,
                    <float *>self.p_s, self.rows, &x32[0, 0],
                    NULL if t32 is None else &t32[0, 0], lp, NULL if w32 is None else &w32[0],
                    x32.shape[0], &o32[0, 0], logits, &g32[0, 0], &loss, cp)
        else:
            x64, t64, w64, o64, g64 = X, T, W, out, grad
            with nogil:
                status = nnf_mlp_evaluate_f64(
                    &self.kernel.plan, _dgemm, <double *>self.p_params,
                    <double *>self.p_state, <double *>self.p_a, <double *>self.p_b,
                    <double *>self.p_z, <double *>self.p_s, self.rows, &x64[0, 0],
                    NULL if t64 is None else &t64[0, 0], lp, NULL if w64 is None else &w64[0],
                    x64.shape[0], &o64[0, 0], logits, &g64[0, 0], &loss, cp)
        if status != 0:
            raise MemoryError("evaluate: the loss kernel could not allocate its scratch")
        return loss, (correct if count else None)

    def __call__(self, X, out, bint check_finite=False, bint logits=False):
        """``out := network(X)`` on one thread (the caller has checked dtypes and shapes).

        With ``check_finite``, X is first checked for NaN and infinity in the same nogil call
        (a batch-1 predict of a small network is ~1 us: a separate check cost as much again);
        returns None, computing nothing, when it holds any. With ``logits``, the last layer's
        activation is left out (the logits a fused loss reads).
        """
        cdef const float[:, ::1] x32
        cdef float[:, ::1] o32
        cdef const double[:, ::1] x64
        cdef double[:, ::1] o64
        cdef size_t n
        cdef const void *xp
        cdef void *op
        cdef int finite
        if self.f32:
            x32, o32 = X, out
            n, xp, op = x32.shape[0], &x32[0, 0], &o32[0, 0]
        else:
            x64, o64 = X, out
            n, xp, op = x64.shape[0], &x64[0, 0], &o64[0, 0]
        with nogil:
            finite = self._run(xp, n, op, check_finite, logits)
        return out if finite else None
