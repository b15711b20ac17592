/* nnf_gemm.c -- see nnf_gemm.h. */
#include <stddef.h>

#include "nnf_gemm.h"
#include "nnf_sgemm.h"

/* Written once by nnf_gemm_use64 before the first GEMM (at import), read-only afterwards. */
static nnf_sgemm64_fn nnf_sgemm64 = NULL;
static nnf_dgemm64_fn nnf_dgemm64 = NULL;

void nnf_gemm_use64(void *sgemm64, void *dgemm64)
{
    nnf_sgemm64 = (nnf_sgemm64_fn)sgemm64;
    nnf_dgemm64 = (nnf_dgemm64_fn)dgemm64;
}

void nnf_sgemm_via64(char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a,
                     int *lda, float *b, int *ldb, float *beta, float *c, int *ldc)
{
    int64_t M = *m, N = *n, K = *k, LDA = *lda, LDB = *ldb, LDC = *ldc;
    nnf_sgemm64(transa, transb, &M, &N, &K, alpha, a, &LDA, b, &LDB, beta, c, &LDC);
}

void nnf_dgemm_via64(char *transa, char *transb, int *m, int *n, int *k, double *alpha, double *a,
                     int *lda, double *b, int *ldb, double *beta, double *c, int *ldc)
{
    int64_t M = *m, N = *n, K = *k, LDA = *lda, LDB = *ldb, LDC = *ldc;
    nnf_dgemm64(transa, transb, &M, &N, &K, alpha, a, &LDA, b, &LDB, beta, c, &LDC);
}

int nnf_gemm_choose(void *sgemm64, void *dgemm64, void *sgemm_lp64, void *dgemm_lp64,
                    int own_sgemm, int isa, void **sgemm_out, void **dgemm_out)
{
    void *blas_s = sgemm_lp64, *blas_d = dgemm_lp64;
    if (sgemm64 != NULL && dgemm64 != NULL) {
        nnf_gemm_use64(sgemm64, dgemm64);
        blas_s = (void *)nnf_sgemm_via64;
        blas_d = (void *)nnf_dgemm_via64;
    }
    nnf_sgemm_set_isa(isa);
    own_sgemm = own_sgemm && nnf_sgemm_available();
    nnf_sgemm_set_fallback((nnf_sgemm_fortran_fn)blas_s, own_sgemm);
    *sgemm_out = own_sgemm ? (void *)nnf_sgemm_dispatch : blas_s;
    *dgemm_out = blas_d;
    return own_sgemm;
}
