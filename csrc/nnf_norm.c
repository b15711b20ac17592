/* nnf_norm.c -- batch/layer normalization, inverted dropout and row gather (see nnf_norm.h).
 *
 * The file is its own template: the first part (NNF_NORM_T undefined) holds what both types
 * share and includes this file twice more, once with NNF_NORM_T = float and once with double.
 *
 * How the work is split:
 *  - batch norm (statistics per column) runs over blocks of columns: a thread owns whole
 *    columns, sums them row after row into double accumulators on its stack (the inner loop runs
 *    along a row, so it vectorizes), and re-reads the block while it is still in cache for the
 *    variance and for y. Every sum has one order whatever the thread count.
 *  - layer norm runs over rows; row sums use NNF_LANES double accumulators (vectorizable without
 *    reassociation), combined in a fixed order. Its dgamma/dbeta are column sums: a
 *    column-parallel pass like batch norm's, run before the row pass (which may write over dy).
 *  - dropout draws element k's 32 random bits from a hash of (seed, k/2) (one 64-bit splitmix64
 *    output serves two elements): no state, no dependence on the thread count or the chunking.
 *  - inner loops live in NNF_CLONES functions taking a [lo, hi) range; the exported functions
 *    only spread ranges over threads with NNF_PARALLEL_CHUNKS.
 */

#ifndef NNF_NORM_T /* ===== shared part, then the two instantiations ===== */

#include <math.h>
#include <string.h>

#include "nnf_common.h"
#include "nnf_norm.h"

/* "No loop-carried dependence through memory": lets the compiler vectorize loops whose output
 * may be exactly their input (in-place use) without a run-time alias check. */
#if defined(__clang__)
#define NNF_IVDEP NNF_PRAGMA(clang loop vectorize(assume_safety))
#elif defined(__GNUC__)
#define NNF_IVDEP NNF_PRAGMA(GCC ivdep)
#elif defined(_MSC_VER)
#define NNF_IVDEP NNF_PRAGMA(loop(ivdep))
#else
#define NNF_IVDEP
#endif


#if defined(_MSC_VER) || (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#define NNF_LITTLE_ENDIAN 1
#else
#define NNF_LITTLE_ENDIAN 0
#endif

#define NNF_CAT_(a, b) a##b
#define NNF_CAT(a, b) NNF_CAT_(a, b)

/* Widest column block (stack buffers per thread: at most 28 KiB). Long rows matter more than
 * cache fit: a block's inner loops run once per row, and short ones cost more in loop overhead
 * than re-reading the block from L3 does. */
#define NNF_COLS 512
/* Independent accumulators of a row sum: enough vectors of doubles in flight to hide the
 * latency of an add (4 AVX2 registers, 2 AVX-512 ones). */
#define NNF_LANES 16
/* Bytes of x a batch-norm column block should span at most, so its re-reads hit cache. */
#define NNF_BLOCK_BYTES ((size_t)2 * 1024 * 1024)

#define NNF_GOLDEN 0x9E3779B97F4A7C15ULL
/* Dropout elements per block of 32-bit draws (on the stack). */
#define NNF_DROP_BLOCK 512

/* splitmix64's output function (a bijection of 64-bit words with full avalanche). */
NNF_INLINE uint64_t nnf_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

NNF_INLINE uint64_t nnf_dropout_key(uint64_t seed) { return nnf_mix64(seed + NNF_GOLDEN); }

uint64_t nnf_dropout_bits(uint64_t seed, uint64_t p)
{
    return nnf_mix64(nnf_dropout_key(seed) + p * NNF_GOLDEN);
}

/* u >= rate, with u = w·2⁻³² for a 32-bit draw w, is w >= ceil(rate·2³²): exact in double. */
NNF_INLINE uint64_t nnf_dropout_threshold(double rate)
{
    return (uint64_t)ceil(rate * 4294967296.0);
}

/* Columns per batch-norm block for n rows of `item` bytes: a multiple of 16 in [16, NNF_COLS]. */
NNF_INLINE size_t nnf_col_block(size_t n, size_t item)
{
    size_t w = NNF_BLOCK_BYTES / (n * item + 1);
    w &= ~(size_t)15;
    return w < 16 ? 16 : (w > NNF_COLS ? NNF_COLS : w);
}

/* The sum of NNF_LANES accumulators, in a fixed (pairwise) order. */
NNF_INLINE double nnf_lanes_total(const double *a)
{
    double h[NNF_LANES / 2];
    for (int k = 0; k < NNF_LANES / 2; k++)
        h[k] = a[k] + a[k + NNF_LANES / 2];
    return (((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7])));
}

#define NNF_NORM_T float
#define NNF_NORM_S(name) NNF_CAT(name, _f32)
#include "nnf_norm.c"
#undef NNF_NORM_T
#undef NNF_NORM_S

#define NNF_NORM_T double
#define NNF_NORM_S(name) NNF_CAT(name, _f64)
#include "nnf_norm.c"
#undef NNF_NORM_T
#undef NNF_NORM_S

#else /* ===== template: one instantiation per NNF_NORM_T ===== */

#define T NNF_NORM_T
#define S NNF_NORM_S

/* ---------------------------------------------------------------- batch norm, training */

/* Columns [lo, hi): statistics and y, block by block. */
NNF_CLONES static void S(bn_forward_cols)(const T *NNF_RESTRICT x, size_t n, size_t d,
                                          const T *NNF_RESTRICT gamma,
                                          const T *NNF_RESTRICT beta, double eps, T *y,
                                          T *NNF_RESTRICT mean, T *NNF_RESTRICT inv_std,
                                          size_t lo, size_t hi)
{
    double sum[NNF_COLS], sq[NNF_COLS];
    T mh[NNF_COLS], ml[NNF_COLS], sc[NNF_COLS], sh[NNF_COLS];
    const size_t wmax = nnf_col_block(n, sizeof(T));
    const double inv_n = 1.0 / (double)n;
    for (size_t c0 = lo; c0 < hi; c0 += wmax) {
        const size_t w = hi - c0 < wmax ? hi - c0 : wmax;
        for (size_t j = 0; j < w; j++)
            sum[j] = 0.0;
        for (size_t i = 0; i < n; i++) {
            const T *xr = x + i * d + c0;
            for (size_t j = 0; j < w; j++)
                sum[j] += (double)xr[j];
        }
        for (size_t j = 0; j < w; j++) {
            sum[j] *= inv_n; /* now the mean */
            sq[j] = 0.0;
        }
        for (size_t i = 0; i < n; i++) {
            const T *xr = x + i * d + c0;
            for (size_t j = 0; j < w; j++) {
                double t = (double)xr[j] - sum[j];
                sq[j] += t * t;
            }
        }
        for (size_t j = 0; j < w; j++) {
            double is = 1.0 / sqrt(sq[j] * inv_n + eps);
            T m = (T)sum[j];
            mean[c0 + j] = m;
            inv_std[c0 + j] = (T)is;
            /* x − mean as (x − mh) − ml with mh + ml = mean: exact enough in float even when
             * the mean dwarfs the spread. */
            mh[j] = m;
            ml[j] = (T)(sum[j] - (double)m);
            sc[j] = (T)((double)gamma[c0 + j] * is);
            sh[j] = beta[c0 + j];
        }
        for (size_t i = 0; i < n; i++) {
            const T *xr = x + i * d + c0;
            T *yr = y + i * d + c0;
            NNF_IVDEP
            for (size_t j = 0; j < w; j++)
                yr[j] = ((xr[j] - mh[j]) - ml[j]) * sc[j] + sh[j];
        }
    }
}

void S(nnf_batch_norm_forward)(const T *x, size_t n, size_t d, const T *gamma, const T *beta,
                               double eps, T *y, T *mean, T *inv_std, int nthreads)
{
    NNF_PARALLEL_CHUNKS(d, 4.0 * (double)n, nthreads,
                        S(bn_forward_cols)(x, n, d, gamma, beta, eps, y, mean, inv_std, lo, hi));
}

/* Plain loops in double on the calling thread (d values): no clones, so no fused multiply-add
 * on any build without -march=native. */
void S(nnf_batch_norm_update_moving)(size_t d, const T *mean, const T *inv_std, double eps,
                                     double momentum, T *moving_mean, T *moving_var)
{
    const double rest = 1.0 - momentum;
    const T rest_t = (T)rest;
    for (size_t j = 0; j < d; j++) {
        const double r = 1.0 / (double)inv_std[j];
        double var = r * r - eps;
        var = var < 0.0 ? 0.0 : var; /* NaN stays NaN */
        const double mm = momentum * (double)moving_mean[j] + (double)(rest_t * mean[j]);
        const double mv = momentum * (double)moving_var[j] + rest * var;
        moving_mean[j] = (T)mm;
        moving_var[j] = (T)mv;
    }
}

/* ---------------------------------------------------------------- batch norm, inference */

/* Rows [lo, hi), column block by column block (the scales computed once per block). */
NNF_CLONES static void S(bn_inference_rows)(const T *NNF_RESTRICT x, size_t d,
                                            const T *NNF_RESTRICT gamma,
                                            const T *NNF_RESTRICT beta,
                                            const T *NNF_RESTRICT mmean,
                                            const T *NNF_RESTRICT mvar, double eps, T *y,
                                            size_t lo, size_t hi)
{
    T sc[NNF_COLS];
    for (size_t c0 = 0; c0 < d; c0 += NNF_COLS) {
        const size_t w = d - c0 < NNF_COLS ? d - c0 : NNF_COLS;
        for (size_t j = 0; j < w; j++)
            sc[j] = (T)((double)gamma[c0 + j] / sqrt((double)mvar[c0 + j] + eps));
        const T *mm = mmean + c0, *bb = beta + c0;
        for (size_t i = lo; i < hi; i++) {
            const T *xr = x + i * d + c0;
            T *yr = y + i * d + c0;
            NNF_IVDEP
            for (size_t j = 0; j < w; j++)
                yr[j] = (xr[j] - mm[j]) * sc[j] + bb[j];
        }
    }
}

void S(nnf_batch_norm_inference)(const T *x, size_t n, size_t d, const T *gamma, const T *beta,
                                 const T *moving_mean, const T *moving_var, double eps, T *y,
                                 int nthreads)
{
    NNF_PARALLEL_CHUNKS(n, (double)d, nthreads,
                        S(bn_inference_rows)(x, d, gamma, beta, moving_mean, moving_var, eps, y,
                                             lo, hi));
}

/* ---------------------------------------------------------------- batch norm, backward */

NNF_CLONES static void S(bn_backward_cols)(const T *dy, const T *NNF_RESTRICT x, size_t n,
                                           size_t d, const T *NNF_RESTRICT gamma,
                                           const T *NNF_RESTRICT mean,
                                           const T *NNF_RESTRICT inv_std, T *dx,
                                           T *NNF_RESTRICT dgamma, T *NNF_RESTRICT dbeta,
                                           size_t lo, size_t hi)
{
    double sdy[NNF_COLS], sdx[NNF_COLS];
    T tm[NNF_COLS], ts[NNF_COLS], k1[NNF_COLS], ka[NNF_COLS], kb[NNF_COLS];
    const size_t wmax = nnf_col_block(2 * n, sizeof(T));
    const double inv_n = n ? 1.0 / (double)n : 0.0;
    for (size_t c0 = lo; c0 < hi; c0 += wmax) {
        const size_t w = hi - c0 < wmax ? hi - c0 : wmax;
        for (size_t j = 0; j < w; j++) {
            sdy[j] = 0.0;
            sdx[j] = 0.0;
            tm[j] = mean[c0 + j];
            ts[j] = inv_std[c0 + j];
        }
        for (size_t i = 0; i < n; i++) {
            const T *gr = dy + i * d + c0, *xr = x + i * d + c0;
            for (size_t j = 0; j < w; j++) {
                T xh = (xr[j] - tm[j]) * ts[j]; /* O(1): its rounding is harmless */
                sdy[j] += (double)gr[j];
                sdx[j] += (double)(gr[j] * xh);
            }
        }
        for (size_t j = 0; j < w; j++) {
            dbeta[c0 + j] = (T)sdy[j];
            dgamma[c0 + j] = (T)sdx[j];
            k1[j] = (T)((double)gamma[c0 + j] * (double)ts[j]);
            ka[j] = (T)(sdy[j] * inv_n);
            kb[j] = (T)(sdx[j] * inv_n);
        }
        for (size_t i = 0; i < n; i++) {
            const T *gr = dy + i * d + c0, *xr = x + i * d + c0;
            T *dr = dx + i * d + c0;
            NNF_IVDEP
            for (size_t j = 0; j < w; j++) {
                T xh = (xr[j] - tm[j]) * ts[j];
                dr[j] = k1[j] * ((gr[j] - ka[j]) - xh * kb[j]);
            }
        }
    }
}

void S(nnf_batch_norm_backward)(const T *dy, const T *x, size_t n, size_t d, const T *gamma,
                                const T *mean, const T *inv_std, T *dx, T *dgamma, T *dbeta,
                                int nthreads)
{
    NNF_PARALLEL_CHUNKS(d, 6.0 * (double)n, nthreads,
                        S(bn_backward_cols)(dy, x, n, d, gamma, mean, inv_std, dx, dgamma, dbeta,
                                            lo, hi));
}

/* ---------------------------------------------------------------- layer norm */

/* Σ p[0..n) in double: NNF_LANES interleaved partial sums (vectorizable, no reassociation),
 * combined in a fixed order, then the tail. Kept to one accumulator array per loop: GCC does not
 * vectorize a loop that updates two. */
NNF_INLINE double S(row_sum)(const T *NNF_RESTRICT p, size_t n)
{
    double acc[NNF_LANES] = {0.0}, tail = 0.0;
    const size_t nb = n / NNF_LANES;
    for (size_t bk = 0; bk < nb; bk++) {
        const T *q = p + bk * NNF_LANES;
        for (size_t k = 0; k < NNF_LANES; k++)
            acc[k] += (double)q[k];
    }
    for (size_t j = nb * NNF_LANES; j < n; j++)
        tail += (double)p[j];
    return nnf_lanes_total(acc) + tail;
}

/* Σ g[j]·w[j] over [0, n) in double (the products formed in T), summed like S(row_sum). */
NNF_INLINE double S(row_dot)(const T *NNF_RESTRICT g, const T *NNF_RESTRICT w, size_t n)
{
    double acc[NNF_LANES] = {0.0}, tail = 0.0;
    const size_t nb = n / NNF_LANES;
    for (size_t bk = 0; bk < nb; bk++) {
        const T *qg = g + bk * NNF_LANES, *qw = w + bk * NNF_LANES;
        for (size_t k = 0; k < NNF_LANES; k++)
            acc[k] += (double)(qg[k] * qw[k]);
    }
    for (size_t j = nb * NNF_LANES; j < n; j++)
        tail += (double)(g[j] * w[j]);
    return nnf_lanes_total(acc) + tail;
}

/* Σ g[j]·w[j]·((x[j] − m)·s) over [0, n) in double (terms formed in T), summed like S(row_sum). */
NNF_INLINE double S(row_dot_xhat)(const T *NNF_RESTRICT g, const T *NNF_RESTRICT w,
                                  const T *NNF_RESTRICT x, T m, T s, size_t n)
{
    double acc[NNF_LANES] = {0.0}, tail = 0.0;
    const size_t nb = n / NNF_LANES;
    for (size_t bk = 0; bk < nb; bk++) {
        const T *qg = g + bk * NNF_LANES, *qw = w + bk * NNF_LANES, *qx = x + bk * NNF_LANES;
        for (size_t k = 0; k < NNF_LANES; k++)
            acc[k] += (double)((qg[k] * qw[k]) * ((qx[k] - m) * s));
    }
    for (size_t j = nb * NNF_LANES; j < n; j++)
        tail += (double)((g[j] * w[j]) * ((x[j] - m) * s));
    return nnf_lanes_total(acc) + tail;
}

/* Σ (p[j] − m)² over p[0..n) in double, summed like S(row_sum). */
NNF_INLINE double S(row_sqdev)(const T *NNF_RESTRICT p, size_t n, double m)
{
    double acc[NNF_LANES] = {0.0}, tail = 0.0;
    const size_t nb = n / NNF_LANES;
    for (size_t bk = 0; bk < nb; bk++) {
        const T *q = p + bk * NNF_LANES;
        for (size_t k = 0; k < NNF_LANES; k++) {
            double t = (double)q[k] - m;
            acc[k] += t * t;
        }
    }
    for (size_t j = nb * NNF_LANES; j < n; j++) {
        double t = (double)p[j] - m;
        tail += t * t;
    }
    return nnf_lanes_total(acc) + tail;
}

NNF_CLONES static void S(ln_forward_rows)(const T *NNF_RESTRICT x, size_t d,
                                          const T *NNF_RESTRICT gamma,
                                          const T *NNF_RESTRICT beta, double eps, T *y,
                                          T *NNF_RESTRICT mean, T *NNF_RESTRICT inv_std,
                                          size_t lo, size_t hi)
{
    const double inv_d = 1.0 / (double)d;
    for (size_t i = lo; i < hi; i++) {
        const T *xr = x + i * d;
        T *yr = y + i * d;
        const double m = S(row_sum)(xr, d) * inv_d;
        const double is = 1.0 / sqrt(S(row_sqdev)(xr, d, m) * inv_d + eps);
        const T mh = (T)m, ml = (T)(m - (double)mh), s = (T)is;
        mean[i] = mh;
        inv_std[i] = s;
        NNF_IVDEP
        for (size_t j = 0; j < d; j++)
            yr[j] = (((xr[j] - mh) - ml) * s) * gamma[j] + beta[j];
    }
}

void S(nnf_layer_norm_forward)(const T *x, size_t n, size_t d, const T *gamma, const T *beta,
                               double eps, T *y, T *mean, T *inv_std, int nthreads)
{
    NNF_PARALLEL_CHUNKS(n, 4.0 * (double)d, nthreads,
                        S(ln_forward_rows)(x, d, gamma, beta, eps, y, mean, inv_std, lo, hi));
}

/* Columns [lo, hi) of dgamma = Σ_i dy·x̂ and dbeta = Σ_i dy (x̂ with the row statistics). */
NNF_CLONES static void S(ln_param_grads_cols)(const T *NNF_RESTRICT dy,
                                              const T *NNF_RESTRICT x, size_t n, size_t d,
                                              const T *NNF_RESTRICT mean,
                                              const T *NNF_RESTRICT inv_std,
                                              T *NNF_RESTRICT dgamma, T *NNF_RESTRICT dbeta,
                                              size_t lo, size_t hi)
{
    double sg[NNF_COLS], sb[NNF_COLS];
    for (size_t c0 = lo; c0 < hi; c0 += NNF_COLS) {
        const size_t w = hi - c0 < NNF_COLS ? hi - c0 : NNF_COLS;
        for (size_t j = 0; j < w; j++) {
            sg[j] = 0.0;
            sb[j] = 0.0;
        }
        for (size_t i = 0; i < n; i++) {
            const T *gr = dy + i * d + c0, *xr = x + i * d + c0;
            const T m = mean[i], s = inv_std[i];
            for (size_t j = 0; j < w; j++) {
                sb[j] += (double)gr[j];
                sg[j] += (double)(gr[j] * ((xr[j] - m) * s));
            }
        }
        for (size_t j = 0; j < w; j++) {
            dgamma[c0 + j] = (T)sg[j];
            dbeta[c0 + j] = (T)sb[j];
        }
    }
}

/* Rows [lo, hi) of dx. */
NNF_CLONES static void S(ln_backward_rows)(const T *dy, const T *NNF_RESTRICT x, size_t d,
                                           const T *NNF_RESTRICT gamma,
                                           const T *NNF_RESTRICT mean,
                                           const T *NNF_RESTRICT inv_std, T *dx, size_t lo,
                                           size_t hi)
{
    const double inv_d = 1.0 / (double)d;
    for (size_t i = lo; i < hi; i++) {
        const T *gr = dy + i * d, *xr = x + i * d;
        T *dr = dx + i * d;
        const T m = mean[i], s = inv_std[i];
        /* Σ g and Σ g·x̂ (g = dy·gamma) in double, each in its own vectorized loop. */
        const double sa = S(row_dot)(gr, gamma, d), sb = S(row_dot_xhat)(gr, gamma, xr, m, s, d);
        const T ka = (T)(sa * inv_d), kb = (T)(sb * inv_d);
        NNF_IVDEP
        for (size_t j = 0; j < d; j++) {
            T xh = (xr[j] - m) * s;
            dr[j] = s * ((gr[j] * gamma[j] - ka) - xh * kb);
        }
    }
}

void S(nnf_layer_norm_backward)(const T *dy, const T *x, size_t n, size_t d, const T *gamma,
                                const T *mean, const T *inv_std, T *dx, T *dgamma, T *dbeta,
                                int nthreads)
{
    /* Column sums first: the row pass may write dx over dy. */
    NNF_PARALLEL_CHUNKS(d, 3.0 * (double)n, nthreads,
                        S(ln_param_grads_cols)(dy, x, n, d, mean, inv_std, dgamma, dbeta, lo, hi));
    if (d == 0)
        return;
    NNF_PARALLEL_CHUNKS(n, 6.0 * (double)d, nthreads,
                        S(ln_backward_rows)(dy, x, d, gamma, mean, inv_std, dx, lo, hi));
}

/* ---------------------------------------------------------------- dropout */

/* Elements [lo, hi): pair p = k/2 hashes once; element 2p takes the low 32 bits, 2p+1 the high. */
NNF_CLONES static void S(dropout_span)(const T *x, uint64_t key, uint32_t thr, T scale, T *y,
                                            T *NNF_RESTRICT mask, size_t lo, size_t hi)
{
    uint64_t h[NNF_DROP_BLOCK / 2 + 1];
    uint32_t w[NNF_DROP_BLOCK + 2];
    const int32_t t = (int32_t)(thr ^ 0x80000000u); /* unsigned >= as signed, flipped sign bit */
    for (size_t b0 = lo; b0 < hi; b0 += NNF_DROP_BLOCK) {
        const size_t m = hi - b0 < NNF_DROP_BLOCK ? hi - b0 : NNF_DROP_BLOCK;
        const size_t off = b0 & 1, np = (off + m + 1) / 2;
        uint64_t z = key + (uint64_t)(b0 >> 1) * NNF_GOLDEN;
        for (size_t p = 0; p < np; p++) {
            h[p] = nnf_mix64(z);
            z += NNF_GOLDEN;
        }
#if NNF_LITTLE_ENDIAN
        memcpy(w, h, np * sizeof(uint64_t)); /* low half first: w[2p], then w[2p+1] */
#else
        for (size_t p = 0; p < np; p++) {
            w[2 * p] = (uint32_t)h[p];
            w[2 * p + 1] = (uint32_t)(h[p] >> 32);
        }
#endif
        const uint32_t *wb = w + off;
        const T *xb = x + b0;
        T *yb = y + b0, *mb = mask + b0;
        NNF_IVDEP
        for (size_t k = 0; k < m; k++) {
            T mk = (int32_t)(wb[k] ^ 0x80000000u) >= t ? scale : (T)0;
            mb[k] = mk;
            yb[k] = xb[k] * mk;
        }
    }
}

NNF_CLONES static void S(dropout_copy)(const T *x, T *y, T *NNF_RESTRICT mask, size_t lo,
                                       size_t hi)
{
    NNF_IVDEP
    for (size_t k = lo; k < hi; k++) {
        y[k] = x[k];
        mask[k] = (T)1;
    }
}

void S(nnf_dropout_forward)(const T *x, size_t size, double rate, uint64_t seed, T *y, T *mask,
                            int nthreads)
{
    if (rate <= 0.0) {
        NNF_PARALLEL_CHUNKS(size, 1.0, nthreads, S(dropout_copy)(x, y, mask, lo, hi));
        return;
    }
    const uint64_t key = nnf_dropout_key(seed), thr = nnf_dropout_threshold(rate);
    /* rate > 1 − 2⁻³²: no 32-bit draw reaches it, every mask value is 0 */
    const T scale = thr > UINT32_MAX ? (T)0 : (T)(1.0 / (1.0 - rate));
    const uint32_t thr32 = thr > UINT32_MAX ? UINT32_MAX : (uint32_t)thr;
    NNF_PARALLEL_CHUNKS(size, 4.0, nthreads,
                        S(dropout_span)(x, key, thr32, scale, y, mask, lo, hi));
}

NNF_CLONES static void S(dropout_backward_span)(const T *dy, const T *NNF_RESTRICT mask, T *dx,
                                                size_t lo, size_t hi)
{
    NNF_IVDEP
    for (size_t k = lo; k < hi; k++)
        dx[k] = dy[k] * mask[k];
}

void S(nnf_dropout_backward)(const T *dy, const T *mask, size_t size, T *dx, int nthreads)
{
    NNF_PARALLEL_CHUNKS(size, 1.0, nthreads, S(dropout_backward_span)(dy, mask, dx, lo, hi));
}

/* ---------------------------------------------------------------- row gather */

/* Rows of contiguous values are copied with memcpy while the next row's cache lines are
 * prefetched: shuffled rows come from anywhere in X (often from DRAM), and a row's first lines
 * are misses the hardware prefetcher cannot foresee. C harness on the 2-vCPU Zen 3 VM, 512 of
 * 16,384 rows of 784 floats evicted from the caches, 15 rounds: 10.5-10.9 -> 8.0-8.2 ms an
 * epoch's worth, 0-20% in a rerun at another time (prefetching 2, 4 or 8 rows ahead, or
 * non-temporally, did no better; it was never slower). */
NNF_CLONES static void S(gather_span)(const T *NNF_RESTRICT x, ptrdiff_t rs, ptrdiff_t cs,
                                      size_t d, const int64_t *NNF_RESTRICT idx,
                                      T *NNF_RESTRICT out, size_t lo, size_t hi)
{
    for (size_t r = lo; r < hi; r++) {
        const T *src = x + (ptrdiff_t)idx[r] * rs;
        T *dst = out + r * d;
        if (cs == 1) {
            if (r + 1 < hi) {
                const char *next = (const char *)(x + (ptrdiff_t)idx[r + 1] * rs);
                for (size_t b = 0; b < d * sizeof(T); b += 64)
                    NNF_PREFETCH(next + b);
            }
            memcpy(dst, src, d * sizeof(T));
        } else {
            for (size_t j = 0; j < d; j++)
                dst[j] = src[(ptrdiff_t)j * cs];
        }
    }
}

void S(nnf_gather_rows)(const T *x, ptrdiff_t row_stride, ptrdiff_t col_stride, size_t d,
                        const int64_t *idx, size_t n_out, T *out, int nthreads)
{
    NNF_PARALLEL_CHUNKS(n_out, (double)d, nthreads,
                        S(gather_span)(x, row_stride, col_stride, d, idx, out, lo, hi));
}

#undef T
#undef S

#endif /* NNF_NORM_T */
