# The C side of nnf_gemm.h (GEMM through NumPy's ILP64 OpenBLAS) and nnf_sgemm.h (nnfast's own
# float32 GEMM), cimported by blas.pyx and step.pyx: the one place these signatures are declared.

cdef extern from "nnf_gemm.h" nogil:
    void nnf_gemm_use64(void *sgemm64, void *dgemm64)
    void nnf_sgemm_via64(char *, char *, int *, int *, int *, float *, float *, int *, float *,
                         int *, float *, float *, int *)
    void nnf_dgemm_via64(char *, char *, int *, int *, int *, double *, double *, int *,
                         double *, int *, double *, double *, int *)


cdef extern from "nnf_sgemm.h" nogil:
    ctypedef void (*nnf_sgemm_fortran_fn)(char *, char *, int *, int *, int *, float *, float *,
                                          int *, float *, int *, float *, float *, int *)
    int nnf_sgemm_available()
    int nnf_sgemm_isa()
    int nnf_sgemm_set_isa(int level)
    void nnf_sgemm_set_fallback(nnf_sgemm_fortran_fn blas, int enabled)
    void nnf_sgemm_set_threads(int nthreads)
    void nnf_sgemm_dispatch(char *, char *, int *, int *, int *, float *, float *, int *,
                            float *, int *, float *, float *, int *)
    int nnf_sgemm_takes(int trans_b, size_t m, size_t n, size_t k)
    int nnf_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                  size_t ldc)
