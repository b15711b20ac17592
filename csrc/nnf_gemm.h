/* nnf_gemm.h -- GEMM through a second BLAS: an ILP64 library behind the LP64 Fortran signature.
 *
 * nnfast's kernels call GEMM through a Fortran-convention function pointer with 32-bit int
 * arguments (scipy.linalg.cython_blas's sgemm/dgemm). NumPy's wheels carry their own OpenBLAS,
 * built for 64-bit ints ("scipy_sgemm_64_"), which on the sizes of a training step is faster than
 * SciPy's (measured 1.16x on the GEMMs of a 784-256-128-10 step at batch 32 and 128, one
 * thread). nnf_gemm_use64 records that library's two functions once, at import; nnf_sgemm_via64
 * and nnf_dgemm_via64 then have the 32-bit signature and widen the ints.
 *
 * C := alpha·op(A)·op(B) + beta·C (column-major), every argument by pointer, as ?gemm_.
 */
#ifndef NNF_GEMM_H
#define NNF_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*nnf_sgemm64_fn)(char *transa, char *transb, int64_t *m, int64_t *n, int64_t *k,
                               float *alpha, float *a, int64_t *lda, float *b, int64_t *ldb,
                               float *beta, float *c, int64_t *ldc);
typedef void (*nnf_dgemm64_fn)(char *transa, char *transb, int64_t *m, int64_t *n, int64_t *k,
                               double *alpha, double *a, int64_t *lda, double *b, int64_t *ldb,
                               double *beta, double *c, int64_t *ldc);

/* Record the ILP64 sgemm and dgemm (both non-NULL); called once, before any GEMM runs. */
void nnf_gemm_use64(void *sgemm64, void *dgemm64);

/* The GEMMs one extension calls: the ILP64 pair when both addresses are given (recorded as by
 * nnf_gemm_use64), else `sgemm_lp64`/`dgemm_lp64` (SciPy's); float32 through nnfast's own GEMM
 * first (nnf_sgemm_dispatch) when `own_sgemm` and the CPU runs it, `isa` as for
 * nnf_sgemm_set_isa. Writes both function pointers; returns whether the own GEMM is on. Each
 * extension that compiles these files holds its own copy of this state, so each calls it. */
int nnf_gemm_choose(void *sgemm64, void *dgemm64, void *sgemm_lp64, void *dgemm_lp64,
                    int own_sgemm, int isa, void **sgemm_out, void **dgemm_out);

/* ?gemm_ with 32-bit ints, forwarded to the recorded ILP64 functions. */
void nnf_sgemm_via64(char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a,
                     int *lda, float *b, int *ldb, float *beta, float *c, int *ldc);
void nnf_dgemm_via64(char *transa, char *transb, int *m, int *n, int *k, double *alpha, double *a,
                     int *lda, double *b, int *ldb, double *beta, double *c, int *ldc);

#ifdef __cplusplus
}
#endif

#endif /* NNF_GEMM_H */
