# distutils: sources = csrc/nnf_gemm.c csrc/nnf_sgemm.c
"""GEMM through SciPy's BLAS (``scipy.linalg.cython_blas``) or, after :func:`use_gemm64`, NumPy's
ILP64 OpenBLAS (``nnfast._blas`` chooses at import): no Python in the call, GIL released.

Operands are row-major; BLAS is column-major. A row-major ``r x c`` matrix with leading
dimension ``ld`` *is* the column-major ``c x r`` matrix of its transpose, so
``C = op(A) op(B)`` (row-major) is computed as ``C^T = op(B)^T op(A)^T`` (column-major) by
swapping the operands: no copies, no transposes. The ops layer works out each operand's
effective transpose flag and leading dimension (an F-ordered array is a transposed C one).
"""

from cython cimport floating
from libc.stdint cimport intptr_t
from scipy.linalg.cython_blas cimport dgemm, sgemm

ctypedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *, float *,
                          int *, float *, float *, int *) noexcept nogil
ctypedef void (*dgemm_fn)(char *, char *, int *, int *, int *, double *, double *, int *,
                          double *, int *, double *, double *, int *) noexcept nogil

from nnfast._kernels._gemm cimport (nnf_gemm_choose, nnf_sgemm, nnf_sgemm_available,
                                    nnf_sgemm_isa, nnf_sgemm_rows, nnf_sgemm_rows_max,
                                    nnf_sgemm_set_threads, nnf_sgemm_takes)

# SciPy's GEMMs unless use_gemm64 switched them (once, at import).
# Products of at most this many rows (float32, no transposes) skip ?gemm for the row kernels of
# nnf_sgemm.c where the CPU has them: against NumPy's OpenBLAS at 2 threads on Zen 3 (784 x 256,
# interleaved timeit), 2 rows 31 against 59 us, 4 rows 43 against 62 us, 8 rows 73 against 50.
cdef enum:
    _ROWS_MAX = 4

cdef sgemm_fn _sgemm = <sgemm_fn>sgemm
cdef dgemm_fn _dgemm = <dgemm_fn>dgemm


def use_gemm64(intptr_t sgemm64, intptr_t dgemm64, bint own_sgemm=False, int isa=-1):
    """Route ``gemm`` to an ILP64 BLAS's ``?gemm_`` (addresses of both; 0, 0: SciPy's), float32
    through nnfast's own GEMM first when ``own_sgemm`` and the CPU has it (returns whether;
    ``isa`` 1 forces its AVX2 kernel, for tests)."""
    global _sgemm, _dgemm
    cdef void *s
    cdef void *d
    own = nnf_gemm_choose(<void *>sgemm64, <void *>dgemm64, <void *>sgemm, <void *>dgemm,
                          own_sgemm, isa, &s, &d)
    _sgemm, _dgemm = <sgemm_fn>s, <dgemm_fn>d
    return bool(own)


def own_sgemm_available():
    """Whether this build and CPU can run nnfast's own float32 GEMM (AVX-512F or AVX2+FMA)."""
    return bool(nnf_sgemm_available())


def own_sgemm_isa():
    """The instruction set of nnfast's own GEMM: 2 AVX-512F, 1 AVX2 + FMA, 0 none."""
    return nnf_sgemm_isa()


def own_sgemm_takes(size_t m, size_t n, size_t k, bint transpose_b=False):
    """Whether a row-major float32 ``m x k @ k x n`` product runs in nnfast's own GEMM now."""
    return bool(nnf_sgemm_takes(transpose_b, m, n, k))


def own_sgemm(const float[:, :] a, const float[:, :] b, float[:, ::1] c, bint trans_a,
              bint trans_b, size_t k, size_t lda, size_t ldb, float alpha=1.0, float beta=0.0):
    """``c := alpha op(a) op(b) + beta c`` in nnfast's own GEMM whatever the shape (tests: the
    dispatcher sends small products to the BLAS); the caller has checked the operands, as for
    :func:`gemm`. Returns False when the kernel is unavailable."""
    cdef size_t m = c.shape[0], n = c.shape[1]
    cdef int status
    if m == 0 or n == 0:
        return True
    with nogil:
        status = nnf_sgemm(trans_a, trans_b, m, n, k, alpha, &a[0, 0], lda, &b[0, 0], ldb, beta,
                           &c[0, 0], n)
    return status == 0


def set_gemm_threads(int nthreads):
    """Threads nnfast's own GEMM may use outside a parallel region."""
    nnf_sgemm_set_threads(nthreads)


cdef inline void gemm_rowmajor(bint trans_a, bint trans_b, int m, int n, int k,
                               floating alpha, const floating *a, int lda,
                               const floating *b, int ldb,
                               floating beta, floating *c, int ldc) noexcept nogil:
    """C (m x n, row-major) := alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        _sgemm(&tb, &ta, &n, &m, &k, &alpha, <float *>b, &ldb, <float *>a, &lda, &beta, c, &ldc)
    else:
        _dgemm(&tb, &ta, &n, &m, &k, &alpha, <double *>b, &ldb, <double *>a, &lda, &beta, c, &ldc)


def gemm(const floating[:, :] a, const floating[:, :] b, floating[:, ::1] c,
         bint trans_a, bint trans_b, int k, int lda, int ldb, double alpha=1.0, double beta=0.0):
    """``c := alpha op(a) op(b) + beta c`` with ``c`` of shape (m, n) and inner dimension ``k``.

    ``a`` and ``b`` are row-major views (unit inner stride) whose row strides are ``lda`` and
    ``ldb`` elements; ``trans_*`` says whether each is used transposed. The ops layer has
    checked every size and excluded empty matrices.
    """
    cdef int m = c.shape[0], n = c.shape[1]
    cdef bint done = False
    with nogil:
        if floating is float:
            # a few rows: the row kernels read B once, where ?gemm packs all of it (1 x 784 @
            # 784 x 256 on Zen 3: 86 us through sgemm, 23 us NumPy's gemv)
            if (not trans_a and not trans_b and alpha == 1.0 and beta == 0.0
                    and m <= _ROWS_MAX and m <= nnf_sgemm_rows_max()):
                done = nnf_sgemm_rows(&a[0, 0], lda, m, &b[0, 0], ldb, &c[0, 0], n, k, n) == 0
        if not done:
            gemm_rowmajor(trans_a, trans_b, m, n, k, <floating>alpha, &a[0, 0], lda,
                          &b[0, 0], ldb, <floating>beta, &c[0, 0], n)
