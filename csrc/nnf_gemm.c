/* nnf_gemm.c -- see nnf_gemm.h. */
#include <stddef.h>

#include "nnf_gemm.h"

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
