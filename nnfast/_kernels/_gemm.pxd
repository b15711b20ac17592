# The C side of nnf_gemm.h (GEMM through NumPy's ILP64 OpenBLAS), cimported by blas.pyx and
# step.pyx: the one place these signatures are declared.

cdef extern from "nnf_gemm.h" nogil:
    void nnf_gemm_use64(void *sgemm64, void *dgemm64)
    void nnf_sgemm_via64(char *, char *, int *, int *, int *, float *, float *, int *, float *,
                         int *, float *, float *, int *)
    void nnf_dgemm_via64(char *, char *, int *, int *, int *, double *, double *, int *,
                         double *, int *, double *, double *, int *)
