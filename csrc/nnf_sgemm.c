/* nnf_sgemm.c -- see nnf_sgemm.h.
 *
 * Loop nest (BLIS names): jc over column blocks of NC, B[:, jc block] packed into 32-column
 * panels (k x 32 floats each, zero-padded past n) shared by the team; pc over k-blocks of at
 * most KC, so the MR x kc strip of A that a micro-kernel reuses across panels stays in L1;
 * then the (row block, panel) tiles of C, panel-major: the kc x 32 panel stays in L1 while the
 * micro-kernel walks down the row blocks (measured 1.1-1.3x over row-block-major, whose panels
 * stream from L2).
 *
 * A full row block reads A in place: transposed A (weight gradients, X^T dY) is contiguous
 * along the 12 rows, row-major A (forward, dY W^T) is 12 row streams. The last, ragged row
 * block is copied into a zero-padded strip first, so no load reaches past A's last element.
 */
#include <stdlib.h>
#include <string.h>

#include "nnf_common.h"
#include "nnf_sgemm.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(NNF_NO_OWN_GEMM)
#define NNF_SGEMM_BUILT 1
#else
#define NNF_SGEMM_BUILT 0
#endif

#define MR 12
#define NR 32
#ifndef KC_MAX
#define KC_MAX 256
#endif
#define PANEL_FLOATS_MAX (256 * 1024) /* packed B block: at most 1 MiB, half of L2 */

/* ---- dispatch ---------------------------------------------------------------------------- */

static nnf_sgemm_fortran_fn nnf_sgemm_blas = NULL;
static int nnf_sgemm_enabled = 0;
static int nnf_sgemm_nthreads = 1;

#if NNF_SGEMM_BUILT

#include <immintrin.h>

#define NNF_AVX512 __attribute__((target("avx512f")))

int nnf_sgemm_available(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return cached;
}

/* ---- packing ----------------------------------------------------------------------------- */

/* Panel of op(B) rows [0, k), columns [j0, j0 + nr), nr <= NR, as k x NR floats. */
NNF_AVX512 static void pack_b_panel(int trans_b, size_t k, const float *b, size_t ldb, size_t j0,
                                    size_t nr, float *NNF_RESTRICT dst)
{
    if (!trans_b) {
        const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1u);
        const __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1u : 0);
        const float *src = b + j0;
        for (size_t p = 0; p < k; p++, src += ldb, dst += NR) {
            _mm512_store_ps(dst, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
        return;
    }
    /* op(B)[p, j] = B[j*ldb + p]: 16 x 16 blocks transposed through registers. */
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                                            4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int)ldb));
    for (size_t half = 0; half < 2; half++) {
        size_t jbase = j0 + 16 * half;
        size_t cols = nr > 16 * half ? nr - 16 * half : 0;
        if (cols > 16)
            cols = 16;
        float *d = dst + 16 * half;
        if (cols == 16 && ldb <= (size_t)(INT32_MAX / 16)) {
            const float *src = b + jbase * ldb;
            for (size_t p = 0; p < k; p++)
                _mm512_store_ps(d + p * NR, _mm512_i32gather_ps(idx, src + p, 4));
        } else {
            for (size_t p = 0; p < k; p++) {
                for (size_t jj = 0; jj < 16; jj++)
                    d[p * NR + jj] = jj < cols ? b[(jbase + jj) * ldb + p] : 0.0f;
            }
        }
    }
}

/* MR x kc strip of op(A) (rows [i0, i0 + mr), k-range [p0, p0 + kc)) as kc x MR floats, rows
 * past mr zero. */
static void pack_a_strip(int trans_a, const float *a, size_t lda, size_t i0, size_t mr,
                         size_t p0, size_t kc, float *NNF_RESTRICT dst)
{
    for (size_t p = 0; p < kc; p++) {
        for (size_t ii = 0; ii < MR; ii++) {
            float v = 0.0f;
            if (ii < mr)
                v = trans_a ? a[(p0 + p) * lda + i0 + ii] : a[(i0 + ii) * lda + p0 + p];
            dst[p * MR + ii] = v;
        }
    }
}

/* ---- micro-kernel ------------------------------------------------------------------------ */

/* C tile (mr x 32, columns masked by m0/m1) := alpha * A_strip B_panel + beta * C, where
 * A_strip[ii, p] = a[ii*rs + p*cs]. beta == 0 never reads C. Always inlined into the two
 * layouts below so that rs or cs is a compile-time 1. */
#ifndef NNF_SGEMM_PREFETCH
#define NNF_SGEMM_PREFETCH 1
#endif
#if NNF_SGEMM_PREFETCH
/* One software prefetch per k-step, PF_AHEAD k-steps ahead: for a row-major strip the rows
 * take turns (row p mod 16, when < 12: one line of each row per 16 k-steps), for a strip
 * contiguous along the rows the line PF_AHEAD k-steps on. */
#define PF_AHEAD 32
#define NNF_UK_PREFETCH(RS, CS)                                                                \
    if ((CS) == 1) {                                                                           \
        const size_t r_ = p & 15;                                                              \
        if (r_ < MR)                                                                           \
            _mm_prefetch((const char *)(a + r_ * (RS) + p + PF_AHEAD), _MM_HINT_T0);           \
    } else {                                                                                   \
        _mm_prefetch((const char *)(ap + PF_AHEAD / 4 * (CS)), _MM_HINT_T0);                   \
    }
#else
#define NNF_UK_PREFETCH(RS, CS)
#endif

#define NNF_UK_BODY(RS, CS)                                                                    \
    __m512 acc0[MR], acc1[MR];                                                                 \
    for (int ii = 0; ii < MR; ii++) {                                                          \
        acc0[ii] = _mm512_setzero_ps();                                                        \
        acc1[ii] = _mm512_setzero_ps();                                                        \
    }                                                                                          \
    for (size_t p = 0; p < kc; p++) {                                                          \
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);                    \
        const float *ap = a + p * (CS);                                                        \
        NNF_UK_PREFETCH(RS, CS)                                                                \
        _Pragma("GCC unroll 12") for (int ii = 0; ii < MR; ii++)                               \
        {                                                                                      \
            const __m512 av = _mm512_set1_ps(ap[ii * (RS)]);                                   \
            acc0[ii] = _mm512_fmadd_ps(av, b0, acc0[ii]);                                      \
            acc1[ii] = _mm512_fmadd_ps(av, b1, acc1[ii]);                                      \
        }                                                                                      \
        bp += NR;                                                                              \
    }                                                                                          \
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                        \
    for (int ii = 0; ii < MR; ii++) {                                                          \
        if ((size_t)ii >= mr)                                                                  \
            break;                                                                             \
        float *cr = c + (size_t)ii * ldc;                                                      \
        __m512 r0 = alpha == 1.0f ? acc0[ii] : _mm512_mul_ps(va, acc0[ii]);                    \
        __m512 r1 = alpha == 1.0f ? acc1[ii] : _mm512_mul_ps(va, acc1[ii]);                    \
        if (beta != 0.0f) {                                                                    \
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), r0);                       \
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), r1);                  \
        }                                                                                      \
        _mm512_mask_storeu_ps(cr, m0, r0);                                                     \
        _mm512_mask_storeu_ps(cr + 16, m1, r1);                                                \
    }

/* A strip contiguous along the rows (packed strips, transposed A): a[ii + p*cs]. */
NNF_AVX512 static void ukernel_rows_contig(size_t kc, const float *NNF_RESTRICT a, size_t cs,
                                           const float *NNF_RESTRICT bp, float *c, size_t ldc,
                                           size_t mr, __mmask16 m0, __mmask16 m1, float alpha,
                                           float beta)
{
    NNF_UK_BODY(1, cs)
}

/* A strip in row-major A: a[ii*rs + p]. */
NNF_AVX512 static void ukernel_rows_strided(size_t kc, const float *NNF_RESTRICT a, size_t rs,
                                            const float *NNF_RESTRICT bp, float *c, size_t ldc,
                                            size_t mr, __mmask16 m0, __mmask16 m1, float alpha,
                                            float beta)
{
    NNF_UK_BODY(rs, 1)
}

/* ---- driver ------------------------------------------------------------------------------ */

/* Grow-only, 64-byte-aligned buffer of the calling thread (packed B). */
static float *thread_buffer(size_t floats)
{
    static __thread float *buf = NULL;
    static __thread size_t cap = 0;
    if (floats > cap) {
        free(buf);
        size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
        buf = (float *)aligned_alloc(64, bytes);
        cap = buf ? floats : 0;
    }
    return buf;
}

typedef struct {
    int trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    size_t lda, ldb, ldc;
    float *c;
    size_t nc;   /* columns per packed block (multiple of NR) */
    size_t kc;   /* k per block */
    float *pack; /* k x nc floats */
} gemm_job;

/* Tiles [t0, t1) (panel-major) of the block of columns [jc, jc + ncur), k-blocks in order. */
NNF_AVX512 static void run_tiles(const gemm_job *J, size_t jc, size_t ncur, size_t t0, size_t t1)
{
    const size_t rowblocks = (J->m + MR - 1) / MR;
    float strip[KC_MAX * MR] __attribute__((aligned(64)));
    for (size_t p0 = 0; p0 < J->k; p0 += J->kc) {
        const size_t kc = J->k - p0 < J->kc ? J->k - p0 : J->kc;
        const float beta = p0 == 0 ? J->beta : 1.0f;
        int strip_packed = 0; /* the ragged last row block, packed for this k-block */
        for (size_t t = t0; t < t1; t++) {
            const size_t jp = t / rowblocks, ib = t % rowblocks;
            const size_t i0 = ib * MR, mr = J->m - i0 < MR ? J->m - i0 : MR;
            const size_t j0 = jp * NR, nr = ncur - j0 < NR ? ncur - j0 : NR;
            const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1u);
            const __mmask16 m1 =
                (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1u : 0);
            const float *bp = J->pack + jp * NR * J->k + p0 * NR;
            float *c = J->c + i0 * J->ldc + jc + j0;
            if (mr < MR) {
                if (!strip_packed) {
                    pack_a_strip(J->trans_a, J->a, J->lda, i0, mr, p0, kc, strip);
                    strip_packed = 1;
                }
                ukernel_rows_contig(kc, strip, MR, bp, c, J->ldc, mr, m0, m1, J->alpha, beta);
            } else if (J->trans_a) {
                ukernel_rows_contig(kc, J->a + p0 * J->lda + i0, J->lda, bp, c, J->ldc, mr, m0,
                                    m1, J->alpha, beta);
            } else {
                ukernel_rows_strided(kc, J->a + i0 * J->lda + p0, J->lda, bp, c, J->ldc, mr, m0,
                                     m1, J->alpha, beta);
            }
        }
    }
}

/* C := beta * C (k == 0 or alpha == 0: no product to add). */
static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *cr = c + i * ldc;
        if (beta == 0.0f)
            memset(cr, 0, n * sizeof(float));
        else
            for (size_t j = 0; j < n; j++)
                cr[j] *= beta;
    }
}

int nnf_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
              const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
              size_t ldc)
{
    if (!nnf_sgemm_available())
        return -1;
    if (m == 0 || n == 0)
        return 0;
    if (k == 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return 0;
    }
    gemm_job J = {trans_a, trans_b, m, n, k, alpha, beta, a, b, lda, ldb, ldc, c, 0, 0, NULL};
    /* k-blocks of equal size, at most KC_MAX: a fixed function of k alone. */
    const size_t kblocks = (k + KC_MAX - 1) / KC_MAX;
    J.kc = (k + kblocks - 1) / kblocks;
    size_t nc = (PANEL_FLOATS_MAX / k) / NR * NR;
    if (nc < NR)
        nc = NR;
    const size_t npad = (n + NR - 1) / NR * NR;
    J.nc = nc < npad ? nc : npad;
    J.pack = thread_buffer(k * J.nc);
    if (J.pack == NULL)
        return -1;

    const size_t rowblocks = (m + MR - 1) / MR;
    for (size_t jc = 0; jc < n; jc += J.nc) {
        const size_t ncur = n - jc < J.nc ? n - jc : J.nc;
        const size_t panels = (ncur + NR - 1) / NR;
        for (size_t jp = 0; jp < panels; jp++) {
            const size_t j0 = jp * NR;
            pack_b_panel(trans_b, k, b, ldb, jc + j0, ncur - j0 < NR ? ncur - j0 : NR,
                         J.pack + jp * NR * k);
        }
        run_tiles(&J, jc, ncur, 0, rowblocks * panels);
    }
    return 0;
}

/* ---- one row: y := x W ------------------------------------------------------------------ */

/* y[j0 : j0 + 16*V] of y := x W, V vectors in registers over every k (V a constant). */
#define NNF_ROW_BLOCK(V)                                                                       \
    for (; j0 + 16 * (V) <= out; j0 += 16 * (V)) {                                             \
        __m512 acc[V];                                                                         \
        for (int j = 0; j < (V); j++)                                                          \
            acc[j] = _mm512_setzero_ps();                                                      \
        const float *wk = w + j0;                                                              \
        for (size_t k = 0; k < in; k++, wk += ldw) {                                           \
            const __m512 xk = _mm512_set1_ps(x[k]);                                            \
            _Pragma("GCC unroll 16") for (int j = 0; j < (V); j++)                             \
                acc[j] = _mm512_fmadd_ps(xk, _mm512_loadu_ps(wk + 16 * j), acc[j]);            \
        }                                                                                      \
        _Pragma("GCC unroll 16") for (int j = 0; j < (V); j++)                                 \
            _mm512_storeu_ps(y + j0 + 16 * j, acc[j]);                                         \
    }

/* y (1 x out) := x (1 x in) W[:, :out], W row-major with row stride ldw: blocks of 256, 128,
 * 64 and 16 columns, each held in registers over all of k (one contiguous run of W per k), the
 * last partial vector masked. Every y element is one multiply-add chain over k in order. */
NNF_AVX512 int nnf_sgemm_row(const float *x, const float *w, float *y, size_t in, size_t ldw,
                             size_t out)
{
    if (!nnf_sgemm_available())
        return -1;
    size_t j0 = 0;
    NNF_ROW_BLOCK(16)
    NNF_ROW_BLOCK(8)
    NNF_ROW_BLOCK(4)
    NNF_ROW_BLOCK(1)
    if (j0 < out) {
        const __mmask16 mk = (__mmask16)((1u << (out - j0)) - 1u);
        __m512 acc = _mm512_setzero_ps();
        const float *wk = w + j0;
        for (size_t k = 0; k < in; k++, wk += ldw)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_maskz_loadu_ps(mk, wk), acc);
        _mm512_mask_storeu_ps(y + j0, mk, acc);
    }
    return 0;
}

#else /* !NNF_SGEMM_BUILT */

int nnf_sgemm_available(void) { return 0; }

int nnf_sgemm_row(const float *x, const float *w, float *y, size_t in, size_t ldw, size_t out)
{
    (void)x; (void)w; (void)y; (void)in; (void)ldw; (void)out;
    return -1;
}

int nnf_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
              const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
              size_t ldc)
{
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    return -1;
}

#endif /* NNF_SGEMM_BUILT */

/* ---- the ?gemm_ shim --------------------------------------------------------------------- */

void nnf_sgemm_set_fallback(nnf_sgemm_fortran_fn blas, int enabled)
{
    nnf_sgemm_blas = blas;
    nnf_sgemm_enabled = enabled && nnf_sgemm_available();
}

void nnf_sgemm_set_threads(int nthreads) { nnf_sgemm_nthreads = nthreads > 0 ? nthreads : 1; }

int nnf_sgemm_takes(size_t m, size_t n, size_t k)
{
    if (!nnf_sgemm_enabled)
        return 0;
    /* Below 8 rows or 24 columns most of a 12 x 32 tile is padding: the BLAS does better. */
    if (m < 8 || n < 24)
        return 0;
    /* nnf_sgemm runs on the calling thread. That is what a thread of a team wants (nnfast's
     * training team calls it from inside its parallel region) and what one thread wants; a
     * lone caller allowed more threads gets the BLAS, whose pool spins between calls (an
     * OpenMP team under nnfast's PASSIVE wait policy pays a futex wake-up per call: measured
     * 1.5-3x slower than OpenBLAS on two threads at 128 x 784 x 256). Products too small to
     * split stay here. */
    if (nnf_sgemm_nthreads <= 1 || 2.0 * (double)m * (double)n * (double)k < 2.0e6)
        return 1;
#if NNF_OPENMP
    return omp_in_parallel();
#else
    return 1;
#endif
}

void nnf_sgemm_dispatch(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                        float *a, int *lda, float *b, int *ldb, float *beta, float *c, int *ldc)
{
    /* Column-major C (m x n) = op(A) op(B) is row-major C^T (n x m) = op(B)^T op(A)^T. */
    const int ta = (*transa == 'T' || *transa == 't' || *transa == 'C' || *transa == 'c');
    const int tb = (*transb == 'T' || *transb == 't' || *transb == 'C' || *transb == 'c');
    if (*m >= 0 && *n >= 0 && *k >= 0 && nnf_sgemm_takes((size_t)*n, (size_t)*m, (size_t)*k) &&
        nnf_sgemm(tb, ta, (size_t)*n, (size_t)*m, (size_t)*k, *alpha, b, (size_t)*ldb, a,
                  (size_t)*lda, *beta, c, (size_t)*ldc) == 0)
        return;
    nnf_sgemm_blas(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
