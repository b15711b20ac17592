# The C side of nnf_gemm.h (GEMM through NumPy's ILP64 OpenBLAS) and nnf_sgemm.h (nnfast's own
# float32 GEMM), cimported by blas.pyx and step.pyx: the one place these signatures are declared.

cdef extern from "nnf_gemm.h" nogil:
    int nnf_gemm_choose(void *sgemm64, void *dgemm64, void *sgemm_lp64, void *dgemm_lp64,
                        int own_sgemm, int isa, void **sgemm_out, void **dgemm_out)


cdef extern from "nnf_sgemm.h" nogil:
    int nnf_sgemm_available()
    int nnf_sgemm_isa()
    void nnf_sgemm_set_threads(int nthreads)
    int nnf_sgemm_takes(int trans_b, size_t m, size_t n, size_t k)
    int nnf_sgemm_rows_max()
    int nnf_sgemm_rows(const float *x, size_t ldx, size_t m, const float *w, size_t ldw,
                       float *y, size_t ldy, size_t k, size_t n)
    int nnf_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                  size_t ldc)
