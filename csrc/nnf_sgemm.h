/* nnf_sgemm.h -- nnfast's own float32 GEMM for the shapes of small and medium networks.
 *
 * OpenBLAS reaches 45-70% of this CPU's single-core AVX-512 peak on the GEMMs of a training step
 * (batch 32-512 rows, 10-1024 columns; measured 44-120 GFLOP/s of ~165), because at these sizes
 * its packing, its blocking for large matrices and its thread start-up are a large part of each
 * call. nnf_sgemm is a BLIS-style GEMM cut to those sizes: B is packed once per call into
 * panels of 32 (AVX-512) or 16 (AVX2) columns (for a few rows on AVX-512, read in place
 * instead), A is read where it lies (row-major or transposed; only a ragged last row block may
 * be copied), and a 12x32 (6x16) micro-kernel keeps the whole C tile in registers (an 8x32
 * (4x16) one the ragged last rows).
 *
 * Results do not depend on how the caller splits the columns among threads: every C element is
 * one fused multiply-add chain over k in order, in the same fixed k-blocks.
 *
 * The kernel needs AVX-512F (12 x 32 tiles) or AVX2 + FMA (6 x 16) at run time and GCC or clang
 * on x86-64 at build time; elsewhere nnf_sgemm_available() is 0 and the callers keep their BLAS.
 */
#ifndef NNF_SGEMM_H
#define NNF_SGEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build and this CPU run nnfast's kernel (checked once), else 0. */
int nnf_sgemm_available(void);

/* The instruction set nnf_sgemm runs with: 2 AVX-512F, 1 AVX2 + FMA, 0 none. */
int nnf_sgemm_isa(void);

/* Run at most `level` (2, 1 or 0; -1: the CPU's best), for tests and comparisons; returns the
 * level now in use. */
int nnf_sgemm_set_isa(int level);

/* Row-major C[m x n] := alpha * op(A) op(B) + beta * C, op(A) m x k, op(B) k x n:
 * op(A)[i, p] = trans_a ? A[p*lda + i] : A[i*lda + p], likewise B with ldb. beta == 0 never
 * reads C. Runs on the calling thread (a team splits C's columns among its threads). Returns 0,
 * or -1 when the kernel is unavailable or cannot allocate its packing buffer. */
int nnf_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
              const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
              size_t ldc);

/* Y (m x out, row stride ldy) := X (m x in, row stride ldx) W[:, :out] (row stride ldw): the
 * small-batch forward's row kernels (on AVX2 up to four rows per pass over W), each element one
 * multiply-add chain over k in order, whatever m. Returns 0, or -1 when unavailable (the caller
 * keeps its own loop). nnf_sgemm_rows_max: the most rows for which this beats ?gemm
 * (which packs all of W): 8 on AVX2, 2 otherwise. */
int nnf_sgemm_rows(const float *x, size_t ldx, size_t m, const float *w, size_t ldw, float *y,
                   size_t ldy, size_t in, size_t out);
int nnf_sgemm_rows_max(void);

/* ?gemm_ (column-major, every argument by pointer) on top of nnf_sgemm, for shapes where it
 * beats the BLAS recorded by nnf_sgemm_set_fallback; other shapes go to that BLAS. */
typedef void (*nnf_sgemm_fortran_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                     float *alpha, float *a, int *lda, float *b, int *ldb,
                                     float *beta, float *c, int *ldc);
void nnf_sgemm_set_fallback(nnf_sgemm_fortran_fn blas, int enabled);
/* nnfast.set_num_threads's count: with more than one, a lone caller's big GEMMs go to the BLAS. */
void nnf_sgemm_set_threads(int nthreads);
void nnf_sgemm_dispatch(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                        float *a, int *lda, float *b, int *ldb, float *beta, float *c, int *ldc);

/* Whether nnf_sgemm_dispatch would run nnfast's kernel for this row-major product (op(B)
 * transposed when trans_b). */
int nnf_sgemm_takes(int trans_b, size_t m, size_t n, size_t k);

#ifdef __cplusplus
}
#endif

#endif /* NNF_SGEMM_H */
