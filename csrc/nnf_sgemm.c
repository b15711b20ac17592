/* nnf_sgemm.c -- see nnf_sgemm.h.
 *
 * Loop nest (BLIS names): jc over column blocks of NC, B[:, jc block] packed into NR-column
 * panels (k x NR floats each, zero-padded past n); pc over k-blocks of at most KC_MAX; ic over
 * groups of rows (one group under 2 * NNF_SGEMM_MC rows); then the group's (row block, panel)
 * tiles of C, panel-major: the kc x NR panel stays in L1 while the micro-kernel walks down the
 * row blocks (measured 1.1-1.3x over row-block-major, whose panels stream from L2), and the
 * group's slice of A stays in L2 across the panels.
 *
 * A full row block reads A in place: transposed A (weight gradients, X^T dY) is contiguous
 * along the MR rows, row-major A (forward, dY W^T) is MR row streams. A ragged last row block
 * of exactly MT rows (8 of 12, 4 of 6: batches of 32, 128, 512 rows end so on AVX-512) runs
 * in place on the MT-row tail kernel; any other is copied into a zero-padded strip first (MT
 * rows wide when it has fewer, else MR), so no load reaches past A's last element. Measured
 * one thread, C harness, 3 alternating runs: 32 x 784 x 128 1.06-1.11x, 32 x 256 x 64
 * 1.14-1.18x, 128 x 256 x 64 1.06-1.12x, 512 x 784 x 128 0.99-1.09x the time before.
 * In groups of rows, transposed A is copied into strips per group (its k-steps lie lda apart).
 *
 * Two instances of the loops and kernels (nnf_sgemm_isa.h): AVX-512F with 12 x 32 tiles and
 * AVX2 + FMA with 6 x 16 tiles, chosen at run time.
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

#ifndef KC_MAX /* k per block: 256 measured level with 128 and ahead of 384 (cache reuse of the panel) */
#define KC_MAX 256
#endif
#define PANEL_FLOATS_MAX (256 * 1024) /* packed B block: at most 1 MiB, half of L2 */

/* ---- dispatch ---------------------------------------------------------------------------- */

static nnf_sgemm_fortran_fn nnf_sgemm_blas = NULL;
static int nnf_sgemm_enabled = 0;
static int nnf_sgemm_nthreads = 1;

#if NNF_SGEMM_BUILT

#include <immintrin.h>
#include <math.h>

#define NNF_AVX512 __attribute__((target("avx512f")))
#define NNF_AVX2 __attribute__((target("avx2,fma")))

/* 2: AVX-512F, 1: AVX2 + FMA, 0: neither (checked once). */
static int cpu_level(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f")                                      ? 2
                 : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                                   : 0;
    }
    return cached;
}

/* The level nnf_sgemm runs at: the CPU's, or lower when nnf_sgemm_set_isa asked for it. */
static int nnf_sgemm_level = -1;

static int sgemm_level(void)
{
    if (nnf_sgemm_level < 0)
        nnf_sgemm_level = cpu_level();
    return nnf_sgemm_level;
}

int nnf_sgemm_available(void) { return sgemm_level() > 0; }

int nnf_sgemm_isa(void) { return sgemm_level(); }

int nnf_sgemm_set_isa(int level)
{
    const int cpu = cpu_level();
    nnf_sgemm_level = level < 0 || level > cpu ? cpu : level;
    return nnf_sgemm_level;
}

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
    size_t nc;   /* columns per packed block (a multiple of 32, so of either NR) */
    size_t kc;   /* k per block */
    float *pack;  /* k x nc floats */
    size_t mc;    /* rows per group of tiles (all of m for small m) */
    float *apack; /* mc x kc floats: a group of transposed A in MR-row strips, or NULL */
    int direct_b; /* 1: row-major B read in place by the kernels, not packed (few rows, whole
                     panels: AVX-512 only) */
} gemm_job;

/* Products of at most this many rows whose row-major B has whole 32-column panels (n a
 * multiple of 32) read B in place instead of packing it: packing is work done once per call
 * and paid back over the rows, ~10% of a batch-32 step's CPU time. Measured one thread, C
 * harness, 6 alternating runs, medians: 32 x 784 x 128 1.25-1.32x, 32 x 256 x 64 1.23x,
 * 20 x 784 x 128 1.5x, 64 x 784 x 128 1.06-1.11x; 128 rows 0.97-1.0x. */
#ifndef NNF_SGEMM_DIRECT_B_ROWS
#define NNF_SGEMM_DIRECT_B_ROWS 64
#endif

/* Products of at least 2 * NNF_SGEMM_MC rows run their tiles in groups of about NNF_SGEMM_MC
 * rows (transposed A copied into strips per group). Measured one thread, against one group of
 * all m rows: TN 2048 x 512 x 128 1.11-1.27x, TN 1024 x 512 x 128 1.13-1.17x, NN 2048 x 256 x
 * 784 1.00-1.21x, TN 784 x 128 x 512 1.02-1.05x (groups of 192 rows did no better); under 768
 * rows, where A's slice is at most ~0.8 MB, one group (TN 784 x 128 x 128: 0.84x grouped). */
#define NNF_SGEMM_MC 384

#define PF_AHEAD 32

/* Rows of a micro-kernel tile, per instance (the row groups are cut in multiples of them). */
#define MR_AVX512 12
#define MR_AVX2 6
/* ... and of its tail kernel, for a ragged last row block of at most that many rows. */
#define MT_AVX512 8
#define MT_AVX2 4

/* AVX-512F: 12 x 32 tiles (24 zmm accumulators). */
#define ISA(name) name##_avx512
#define ISA_TARGET NNF_AVX512
#define ISA_AVX512 1
#define MR MR_AVX512
#define MT MT_AVX512
#define NR 32
#include "nnf_sgemm_isa.h"
#undef ISA
#undef ISA_TARGET
#undef ISA_AVX512
#undef MR
#undef MT
#undef NR

/* AVX2 + FMA: 6 x 16 tiles (12 ymm accumulators). */
#define ISA(name) name##_avx2
#define ISA_TARGET NNF_AVX2
#define ISA_AVX512 0
#define MR MR_AVX2
#define MT MT_AVX2
#define NR 16
#include "nnf_sgemm_isa.h"
#undef ISA
#undef ISA_TARGET
#undef ISA_AVX512
#undef MR
#undef MT
#undef NR

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
    const int level = sgemm_level();
    if (level == 0)
        return -1;
    if (m == 0 || n == 0)
        return 0;
    if (k == 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return 0;
    }
    gemm_job J = {trans_a, trans_b, m, n, k, alpha, beta, a, b, lda, ldb, ldc, c, 0, 0, NULL,
                  m, NULL,
                  level == 2 && !trans_b && m <= NNF_SGEMM_DIRECT_B_ROWS && n % 32 == 0};
    /* k-blocks of equal size, at most KC_MAX: a fixed function of k alone. */
    const size_t kblocks = (k + KC_MAX - 1) / KC_MAX;
    J.kc = (k + kblocks - 1) / kblocks;
    size_t nc = (PANEL_FLOATS_MAX / k) / 32 * 32;
    if (nc < 32)
        nc = 32;
    const size_t npad = (n + 31) / 32 * 32;
    J.nc = nc < npad ? nc : npad;
    size_t apack = 0; /* floats of the A strips */
    if (m >= 2 * NNF_SGEMM_MC) {
        const size_t groups = (m + NNF_SGEMM_MC - 1) / NNF_SGEMM_MC;
        const size_t mr = level == 2 ? MR_AVX512 : MR_AVX2;
        J.mc = ((m + groups - 1) / groups + mr - 1) / mr * mr;
        if (trans_a)
            apack = J.mc * J.kc;
    }
    if (!J.direct_b) { /* B read in place needs no packing buffer (nor A strips: m <= 64) */
        J.pack = thread_buffer(k * J.nc + apack);
        if (J.pack == NULL)
            return -1;
        J.apack = apack ? J.pack + k * J.nc : NULL;
    }
    if (level == 2)
        sgemm_run_avx512(&J);
    else
        sgemm_run_avx2(&J);
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

/* The AVX2 twin of NNF_ROW_BLOCK for R rows at once: Y[0:R, j0 : j0 + 8*V] := X[0:R] W, R x V
 * ymm accumulators, each W vector loaded once for the R rows, every element one multiply-add
 * chain over k in order (so the same bits whatever R, one row included). With PF, the W rows PF
 * steps ahead are prefetched (one hint per cache line): the hardware prefetcher alone left the
 * 784 x 256 layer's 1 KB-strided rows waiting on L3. */
#define NNF_ROWS_BLOCK_AVX2(R, V, PF)                                                          \
    for (; j0 + 8 * (V) <= out; j0 += 8 * (V)) {                                               \
        __m256 acc[R][V];                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            for (int j = 0; j < (V); j++)                                                      \
                acc[r][j] = _mm256_setzero_ps();                                               \
        const float *wk = w + j0;                                                              \
        for (size_t k = 0; k < in; k++, wk += ldw) {                                           \
            if (PF)                                                                            \
                _Pragma("GCC unroll 8") for (int j = 0; j < (V); j += 2)                       \
                    _mm_prefetch((const char *)(wk + (PF) * ldw + 8 * j), _MM_HINT_T0);        \
            __m256 wv[V];                                                                      \
            _Pragma("GCC unroll 8") for (int j = 0; j < (V); j++)                              \
                wv[j] = _mm256_loadu_ps(wk + 8 * j);                                           \
            _Pragma("GCC unroll 8") for (int r = 0; r < (R); r++) {                            \
                const __m256 xk = _mm256_broadcast_ss(x + r * ldx + k);                        \
                _Pragma("GCC unroll 8") for (int j = 0; j < (V); j++)                          \
                    acc[r][j] = _mm256_fmadd_ps(xk, wv[j], acc[r][j]);                         \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            for (int j = 0; j < (V); j++)                                                      \
                _mm256_storeu_ps(y + r * ldy + j0 + 8 * j, acc[r][j]);                         \
    }

#define NNF_ROWS_TAIL_AVX2(R)                                                                  \
    if (j0 < out) {                                                                            \
        const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(out - j0)),              \
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));      \
        __m256 acc[R];                                                                         \
        for (int r = 0; r < (R); r++)                                                          \
            acc[r] = _mm256_setzero_ps();                                                      \
        const float *wk = w + j0;                                                              \
        for (size_t k = 0; k < in; k++, wk += ldw) {                                           \
            const __m256 wv = _mm256_maskload_ps(wk, mk);                                      \
            for (int r = 0; r < (R); r++)                                                      \
                acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * ldx + k), wv, acc[r]);    \
        }                                                                                      \
        for (int r = 0; r < (R); r++)                                                          \
            _mm256_maskstore_ps(y + r * ldy + j0, mk, acc[r]);                                 \
    }

/* A kernel of R rows (x row stride ldx, y row stride ldy) in one pass over W: BLOCKS, a run
 * of NNF_ROWS_BLOCK_AVX2 from the widest block down, then the masked tail. */
#define NNF_ROWS_KERNEL_AVX2(NAME, R, BLOCKS)                                                  \
    NNF_AVX2 static void NAME(const float *x, size_t ldx, const float *w, size_t ldw,          \
                              float *y, size_t ldy, size_t in, size_t out)                     \
    {                                                                                          \
        size_t j0 = 0;                                                                         \
        BLOCKS                                                                                 \
        NNF_ROWS_TAIL_AVX2(R)                                                                  \
    }

/* One row: y[j0 : j0 + 8*V], V ymm accumulators fed straight from memory. Not the R = 1 case of
 * NNF_ROWS_BLOCK_AVX2: with its W vectors loaded into registers first, the 12-vector block
 * needs 24 of the 16 ymm registers and spilled (784 x 256: 47 us against 12.8). */
#define NNF_ROW_BLOCK_AVX2(V, PF)                                                              \
    for (; j0 + 8 * (V) <= out; j0 += 8 * (V)) {                                               \
        __m256 acc[V];                                                                         \
        for (int j = 0; j < (V); j++)                                                          \
            acc[j] = _mm256_setzero_ps();                                                      \
        const float *wk = w + j0;                                                              \
        for (size_t k = 0; k < in; k++, wk += ldw) {                                           \
            if (PF)                                                                            \
                _Pragma("GCC unroll 8") for (int j = 0; j < (V); j += 2)                       \
                    _mm_prefetch((const char *)(wk + (PF) * ldw + 8 * j), _MM_HINT_T0);        \
            const __m256 xk = _mm256_broadcast_ss(x + k);                                      \
            _Pragma("GCC unroll 16") for (int j = 0; j < (V); j++)                             \
                acc[j] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(wk + 8 * j), acc[j]);             \
        }                                                                                      \
        _Pragma("GCC unroll 16") for (int j = 0; j < (V); j++)                                 \
            _mm256_storeu_ps(y + j0 + 8 * j, acc[j]);                                          \
    }

/* One row on AVX2 + FMA: blocks of 96, 64, 32, 16 and 8 columns (12 of the 16 ymm registers at
 * most), then the masked tail. C harness on Zen 3, medians of 21 x 1,000 calls, against the
 * portable 64-column loop: 784 x 256 15.8 -> 12.8 us, 2048 x 1024 421 -> 280 us, 128 x 10 0.50
 * -> 0.38 us (same bits). */
NNF_AVX2 static void sgemm_rows1_avx2(const float *x, size_t ldx, const float *w, size_t ldw,
                                      float *y, size_t ldy, size_t in, size_t out)
{
    size_t j0 = 0;
    NNF_ROW_BLOCK_AVX2(12, 4)
    NNF_ROW_BLOCK_AVX2(8, 4)
    NNF_ROW_BLOCK_AVX2(4, 0)
    NNF_ROW_BLOCK_AVX2(2, 0)
    NNF_ROW_BLOCK_AVX2(1, 0)
    NNF_ROWS_TAIL_AVX2(1)
}

/* W of at least this many bytes goes to sgemm_row1_stream_avx2 (see there). */
#define NNF_ROW_STREAM_BYTES ((size_t)8 << 20)

/* One row for a W beyond the caches (NNF_ROW_STREAM_BYTES or more): y's partial sums kept in
 * memory (L1) and W read row after row, four rows of W per pass over y, so that W streams from
 * memory in address order; sgemm_rows1_avx2's column blocks walk it in 4 KB-strided runs
 * instead, which the prefetchers and the TLB serve badly. Each y element is the same
 * multiply-add chain over k in order, so the bits are sgemm_rows1_avx2's. C harness on Zen 3,
 * medians of 21 x 100 calls: 2048 x 1024 (8 MB) 225-282 -> 169-202 us, 3072 x 1024 667-1,256
 * -> 320-364 us, 2048 x 2048 2,447 -> 738 us; at 4-6 MB (1024 x 1536, 1200 x 1200) the column
 * blocks are 1.0-1.4x faster, hence the threshold. (Software prefetch measured no better.) */
NNF_AVX2 static void sgemm_row1_stream_avx2(const float *x, const float *w, size_t ldw,
                                            float *y, size_t in, size_t out)
{
    const size_t n8 = out & ~(size_t)7;
    const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(out - n8)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    memset(y, 0, out * sizeof(float));
    size_t k = 0;
    for (; k + 4 <= in; k += 4) {
        const float *w0 = w + k * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        const __m256 b0 = _mm256_broadcast_ss(x + k), b1 = _mm256_broadcast_ss(x + k + 1);
        const __m256 b2 = _mm256_broadcast_ss(x + k + 2), b3 = _mm256_broadcast_ss(x + k + 3);
        size_t j = 0;
        for (; j + 16 <= out; j += 16) {
            __m256 a = _mm256_loadu_ps(y + j), c = _mm256_loadu_ps(y + j + 8);
            a = _mm256_fmadd_ps(b0, _mm256_loadu_ps(w0 + j), a);
            c = _mm256_fmadd_ps(b0, _mm256_loadu_ps(w0 + j + 8), c);
            a = _mm256_fmadd_ps(b1, _mm256_loadu_ps(w1 + j), a);
            c = _mm256_fmadd_ps(b1, _mm256_loadu_ps(w1 + j + 8), c);
            a = _mm256_fmadd_ps(b2, _mm256_loadu_ps(w2 + j), a);
            c = _mm256_fmadd_ps(b2, _mm256_loadu_ps(w2 + j + 8), c);
            a = _mm256_fmadd_ps(b3, _mm256_loadu_ps(w3 + j), a);
            c = _mm256_fmadd_ps(b3, _mm256_loadu_ps(w3 + j + 8), c);
            _mm256_storeu_ps(y + j, a);
            _mm256_storeu_ps(y + j + 8, c);
        }
        for (; j + 8 <= out; j += 8) {
            __m256 a = _mm256_loadu_ps(y + j);
            a = _mm256_fmadd_ps(b0, _mm256_loadu_ps(w0 + j), a);
            a = _mm256_fmadd_ps(b1, _mm256_loadu_ps(w1 + j), a);
            a = _mm256_fmadd_ps(b2, _mm256_loadu_ps(w2 + j), a);
            a = _mm256_fmadd_ps(b3, _mm256_loadu_ps(w3 + j), a);
            _mm256_storeu_ps(y + j, a);
        }
        if (j < out) {
            __m256 a = _mm256_maskload_ps(y + j, mk);
            a = _mm256_fmadd_ps(b0, _mm256_maskload_ps(w0 + j, mk), a);
            a = _mm256_fmadd_ps(b1, _mm256_maskload_ps(w1 + j, mk), a);
            a = _mm256_fmadd_ps(b2, _mm256_maskload_ps(w2 + j, mk), a);
            a = _mm256_fmadd_ps(b3, _mm256_maskload_ps(w3 + j, mk), a);
            _mm256_maskstore_ps(y + j, mk, a);
        }
    }
    for (; k < in; k++) {
        const float *w0 = w + k * ldw;
        const __m256 b0 = _mm256_broadcast_ss(x + k);
        size_t j = 0;
        for (; j + 8 <= out; j += 8)
            _mm256_storeu_ps(y + j, _mm256_fmadd_ps(b0, _mm256_loadu_ps(w0 + j),
                                                    _mm256_loadu_ps(y + j)));
        if (j < out)
            _mm256_maskstore_ps(y + j, mk, _mm256_fmadd_ps(b0, _mm256_maskload_ps(w0 + j, mk),
                                                           _mm256_maskload_ps(y + j, mk)));
    }
}

/* C harness on Zen 3, 784 x 256, medians of 21 x 1,000 calls: four rows in one pass 24.9 us
 * against 50.3 us for four one-row calls, three 22.1 against 40.2, two 17.4 against 24.9. */
NNF_ROWS_KERNEL_AVX2(sgemm_rows4_avx2, 4,
                     NNF_ROWS_BLOCK_AVX2(4, 3, 4) NNF_ROWS_BLOCK_AVX2(4, 2, 0)
                     NNF_ROWS_BLOCK_AVX2(4, 1, 0))
NNF_ROWS_KERNEL_AVX2(sgemm_rows3_avx2, 3,
                     NNF_ROWS_BLOCK_AVX2(3, 4, 4) NNF_ROWS_BLOCK_AVX2(3, 2, 0)
                     NNF_ROWS_BLOCK_AVX2(3, 1, 0))
NNF_ROWS_KERNEL_AVX2(sgemm_rows2_avx2, 2,
                     NNF_ROWS_BLOCK_AVX2(2, 6, 4) NNF_ROWS_BLOCK_AVX2(2, 4, 4)
                     NNF_ROWS_BLOCK_AVX2(2, 2, 0) NNF_ROWS_BLOCK_AVX2(2, 1, 0))

/* y (1 x out) := x (1 x in) W[:, :out], W row-major with row stride ldw: blocks of 256, 128,
 * 64 and 16 columns, each held in registers over all of k (one contiguous run of W per k), the
 * last partial vector masked. Every y element is one multiply-add chain over k in order
 * (nnf_sgemm_rows runs it row by row on AVX-512 CPUs). */
NNF_AVX512 static void sgemm_row_avx512(const float *x, const float *w, float *y, size_t in,
                                        size_t ldw, size_t out)
{
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
}

int nnf_sgemm_rows_max(void) { return cpu_level() == 1 ? 8 : 2; }

int nnf_sgemm_rows(const float *x, size_t ldx, size_t m, const float *w, size_t ldw, float *y,
                   size_t ldy, size_t in, size_t out)
{
    const int level = cpu_level();
    if (level == 0)
        return -1;
    size_t r = 0;
    if (level == 1) {
        for (; r + 4 <= m; r += 4)
            sgemm_rows4_avx2(x + r * ldx, ldx, w, ldw, y + r * ldy, ldy, in, out);
        if (m - r == 3)
            sgemm_rows3_avx2(x + r * ldx, ldx, w, ldw, y + r * ldy, ldy, in, out);
        else if (m - r == 2)
            sgemm_rows2_avx2(x + r * ldx, ldx, w, ldw, y + r * ldy, ldy, in, out);
        else if (m - r == 1 && in * ldw * sizeof(float) >= NNF_ROW_STREAM_BYTES)
            sgemm_row1_stream_avx2(x + r * ldx, w, ldw, y + r * ldy, in, out);
        else if (m - r == 1)
            sgemm_rows1_avx2(x + r * ldx, ldx, w, ldw, y + r * ldy, ldy, in, out);
        return 0;
    }
    for (; r < m; r++)
        sgemm_row_avx512(x + r * ldx, w, y + r * ldy, in, ldw, out);
    return 0;
}


#else /* !NNF_SGEMM_BUILT */

int nnf_sgemm_available(void) { return 0; }

int nnf_sgemm_isa(void) { return 0; }

int nnf_sgemm_set_isa(int level)
{
    (void)level;
    return 0;
}

int nnf_sgemm_rows_max(void) { return 2; }

int nnf_sgemm_rows(const float *x, size_t ldx, size_t m, const float *w, size_t ldw, float *y,
                   size_t ldy, size_t in, size_t out)
{
    (void)x; (void)ldx; (void)m; (void)w; (void)ldw; (void)y; (void)ldy; (void)in; (void)out;
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

int nnf_sgemm_takes(int trans_b, size_t m, size_t n, size_t k)
{
    if (!nnf_sgemm_enabled)
        return 0;
    /* Below 8 rows or 24 columns most of a 12 x 32 tile is padding: the BLAS does better. */
    if (m < 8 || n < 24)
        return 0;
    /* Under a million multiply-adds OpenBLAS's small-matrix kernels (no packing) beat this one
     * by 1.2-1.6x on NN and TN products (32 x 30 x 64 ... 256 x 32 x 64, one thread), but not
     * with a transposed B (dY W^T: this one 1.6x faster at 32 x 64 x 64). */
    const double macs = (double)m * (double)n * (double)k;
    if (!trans_b && macs < 1.0e6)
        return 0;
    /* nnf_sgemm runs on the calling thread. That is what a thread of a team wants (nnfast's
     * training team calls it from inside its parallel region) and what one thread wants; a
     * lone caller allowed more threads gets the BLAS, whose pool spins between calls (an
     * OpenMP team under nnfast's PASSIVE wait policy pays a futex wake-up per call: measured
     * 1.5-3x slower than OpenBLAS on two threads at 128 x 784 x 256). Products too small to
     * split stay here. */
    if (nnf_sgemm_nthreads <= 1 || macs < 1.0e6)
        return 1;
#if NNF_OPENMP
    return omp_in_parallel();
#else
    return 0; /* a serial build has no team: every caller is a lone one */
#endif
}

void nnf_sgemm_dispatch(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                        float *a, int *lda, float *b, int *ldb, float *beta, float *c, int *ldc)
{
    /* Column-major C (m x n) = op(A) op(B) is row-major C^T (n x m) = op(B)^T op(A)^T. */
    const int ta = (*transa == 'T' || *transa == 't' || *transa == 'C' || *transa == 'c');
    const int tb = (*transb == 'T' || *transb == 't' || *transb == 'C' || *transb == 'c');
    if (*m >= 0 && *n >= 0 && *k >= 0 && nnf_sgemm_takes(ta, (size_t)*n, (size_t)*m, (size_t)*k) &&
        nnf_sgemm(tb, ta, (size_t)*n, (size_t)*m, (size_t)*k, *alpha, b, (size_t)*ldb, a,
                  (size_t)*lda, *beta, c, (size_t)*ldc) == 0)
        return;
    nnf_sgemm_blas(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
