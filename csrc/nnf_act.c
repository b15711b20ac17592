/* nnf_act.c -- activations, derivatives, softmax, bias epilogue and bias gradient.
 *
 * The float and double versions are written once: the second half of this file is a template
 * that the first half includes twice (T = float, then T = double), renaming every function
 * with SFX(). float32 uses the vectorizable math of nnf_math.h / nnf_act_math.h; float64 uses
 * libm.
 *
 * Each hot loop is its own NNF_CLONES function taking (pointers, lo, hi), one per activation,
 * so the `switch` on the activation code happens once per call, outside the loop, and every
 * loop body is a straight line of selects that GCC vectorizes. Reductions (softmax max/sum,
 * bias gradient) keep NNF_LANES independent partial results so they vectorize without
 * reassociation flags and give the same answer on every thread count.
 */
#ifndef NNF_ACT_TEMPLATE

#include "nnf_act.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnf_act_math.h"
#include "nnf_common.h"
#include "nnf_math.h"


/* Inline the whole call tree of a hot loop (nnf_expf and friends are only `inline` hints, and
 * an outlined call compiled for the baseline ISA would stop the loop from vectorizing). */
#if defined(__GNUC__)
#define NNF_ACT_HOT NNF_CLONES __attribute__((flatten))
#else
#define NNF_ACT_HOT NNF_CLONES
#endif

/* Software prefetch in the element-wise activation loops. A loop of ~55 vector instructions a
 * vector (gelu) keeps few loads in flight, and the hardware prefetchers alone left it waiting
 * on memory once the arrays outgrow the caches: C harness, float32 gelu, one thread, AVX-512
 * (Intel Xeon, 2 MB L2): 2.2 cycles a float in L2, 2.5-2.7 at 4-8 MB, 4.5-4.8 at 10M floats;
 * prefetching each 1 KB block 4-16 KB ahead, 2.3 at 10M (in L2 2.1 -> 2.2). */
#define NNF_ACT_BLOCK_BYTES 1024
#define NNF_ACT_AHEAD_BYTES 8192
#define NNF_ACT_STREAM_BYTES (512 * 1024)

/* Keep a NNF_LANES-long inner loop rolled so the loop vectorizer sees an element-wise update of
 * acc[0..NNF_LANES) rather than NNF_LANES scalar max-reductions (which it refuses without
 * -ffinite-math-only). */
#if defined(__GNUC__) && !defined(__clang__)
#define NNF_ACT_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define NNF_ACT_NO_UNROLL
#endif

/* Independent partial results kept by a vectorized reduction (two AVX-512 float registers). */
#define NNF_LANES 16

int nnf_act_backward_uses_output(int code)
{
    return !(code == NNF_ACT_GELU || code == NNF_ACT_SWISH);
}

/* Relative cost of one element of each activation (1 = a relu, ~0.08 ns in L1), from measured
 * float32 per-element times, for sizing thread teams: forward, and backward. The piecewise-
 * linear forwards count 2: near the team's threshold they stream from L2/L3, and a lone call
 * (team asleep) of relu measured 137 / 133 us on 1 / 2 threads at 262,144 floats and 326 / 184
 * us at 524,288 (2-vCPU Sapphire Rapids, threshold 340-550K units), where cost 1 kept it on
 * one thread. */
static const double nnf_act_cost_fwd[NNF_ACT_COUNT] = {2, 2, 2, 10, 10, 15, 20, 11, 22, 16};
static const double nnf_act_cost_bwd[NNF_ACT_COUNT] = {1, 2, 2, 2, 2, 2, 35, 13, 10, 2};

NNF_INLINE double nnf_act_cost_of(int code, int backward)
{
    if (code < 0 || code >= NNF_ACT_COUNT)
        return 1.0;
    return backward ? nnf_act_cost_bwd[code] : nnf_act_cost_fwd[code];
}

NNF_ACT_HOT static void nnf_erf_loop(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = nnf_erff(x[i]);
}

NNF_ACT_HOT static void nnf_normcdf_loop(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = nnf_normcdff(x[i]);
}

NNF_ACT_HOT static void nnf_tanh_loop(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = nnf_tanhf(x[i]);
}

NNF_ACT_HOT static void nnf_expm1_loop(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = nnf_expm1f(x[i]);
}

void nnf_act_math_f32(int fn, size_t n, const float *x, float *y)
{
    switch (fn) {
    case 0: nnf_erf_loop(x, y, n); break;
    case 1: nnf_normcdf_loop(x, y, n); break;
    case 2: nnf_tanh_loop(x, y, n); break;
    case 3: nnf_expm1_loop(x, y, n); break;
    default: break;
    }
}

#define NNF_ACT_TEMPLATE

#define T float
#define SFX(name) name##_f32
#define EXP nnf_expf
#define EXPM1 nnf_expm1f
#define LOG logf
#define TANH nnf_tanhf
#define SOFTPLUS nnf_softplus_actf
#define NORMCDF nnf_normcdff
#include "nnf_act.c"
#undef T
#undef SFX
#undef EXP
#undef EXPM1
#undef LOG
#undef TANH
#undef SOFTPLUS
#undef NORMCDF

#define T double
#define SFX(name) name##_f64
#define EXP exp
#define EXPM1 expm1
#define LOG log
#define TANH tanh
#define SOFTPLUS nnf_softplus
#define NORMCDF nnf_normcdf
#include "nnf_act.c"

#else /* ------------------------------------------------------------- the T template ---- */

/* ---- scalar activations: f_NAME(x) = act(x) ---- */

NNF_INLINE T SFX(f_linear)(T x) { return x; }
NNF_INLINE T SFX(f_relu)(T x) { return x < 0 ? (T)0 : x; }            /* nan stays nan */
NNF_INLINE T SFX(f_leaky_relu)(T x) { return x < 0 ? (T)NNF_LEAKY_RELU_ALPHA * x : x; }
NNF_INLINE T SFX(f_elu)(T x) { return x < 0 ? (T)NNF_ELU_ALPHA * EXPM1(x) : x; }
NNF_INLINE T SFX(f_tanh)(T x) { return TANH(x); }
/* Below -40, x·Phi(x) underflows to 0 in both precisions; testing first keeps -inf·0 (nan) and
 * float32's clamped Phi (1.4e-45 for x <= -14.1) out of the product. nan stays nan. */
#define NNF_GELU_ZERO_BELOW (-40)
NNF_INLINE T SFX(f_gelu)(T x) { return x <= (T)NNF_GELU_ZERO_BELOW ? (T)0 : x * NORMCDF(x); }
NNF_INLINE T SFX(f_softplus)(T x) { return SOFTPLUS(x); }

/* sigmoid(x) and sigmoid(-x) from one exp(-|x|), never overflowing. */
NNF_INLINE T SFX(sigmoid_pm)(T x, T *minus)
{
    T e = EXP(x < 0 ? x : -x);
    T s = (T)1 / ((T)1 + e);
    *minus = x < 0 ? s : e * s;
    return x < 0 ? e * s : s;
}

NNF_INLINE T SFX(f_sigmoid)(T x) { T m; return SFX(sigmoid_pm)(x, &m); }
NNF_INLINE T SFX(f_swish)(T x) { T m; return x * SFX(sigmoid_pm)(x, &m); }

/* ---- scalar derivatives: g_NAME(s, dy) = dy act'(x), s = y or x (see nnf_act.h) ---- */

NNF_INLINE T SFX(g_linear)(T s, T g) { (void)s; return g; }
NNF_INLINE T SFX(g_relu)(T y, T g) { return y > 0 ? g : (T)0; }
NNF_INLINE T SFX(g_leaky_relu)(T y, T g) { return y > 0 ? g : (T)NNF_LEAKY_RELU_ALPHA * g; }
NNF_INLINE T SFX(g_elu)(T y, T g) { return y > 0 ? g : g * (y + (T)NNF_ELU_ALPHA); }
NNF_INLINE T SFX(g_sigmoid)(T y, T g) { return g * (y * ((T)1 - y)); }
NNF_INLINE T SFX(g_tanh)(T y, T g) { return g * (((T)1 - y) * ((T)1 + y)); }
/* softplus' = sigmoid(x) = 1 - exp(-y) = -expm1(-y) */
NNF_INLINE T SFX(g_softplus)(T y, T g) { return g * -EXPM1(-y); }
/* gelu' = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi) */
NNF_INLINE T SFX(g_gelu)(T x, T g)
{
    T pdf = (T)0.39894228040143267794 * EXP((T)-0.5 * (x * x));
    return x <= (T)NNF_GELU_ZERO_BELOW ? g * (T)0 : g * (NORMCDF(x) + x * pdf);
}
/* swish' = sigmoid(x) (1 + x sigmoid(-x)) */
NNF_INLINE T SFX(g_swish)(T x, T g)
{
    T m;
    T p = SFX(sigmoid_pm)(x, &m);
    return g * (p * ((T)1 + x * m));
}

/* ---- the cloned loops, three per activation ---- */

/* Request elements [i, i + n) of p, NNF_ACT_AHEAD_BYTES on (when they lie before hi): one
 * prefetch a cache line. */
NNF_INLINE void SFX(prefetch_span)(const T *p, size_t i, size_t n, size_t hi)
{
    const size_t ahead = NNF_ACT_AHEAD_BYTES / sizeof(T);
    if (hi - i > ahead + n)
        for (size_t byte = 0; byte < n * sizeof(T); byte += 64)
            __builtin_prefetch((const char *)(p + i + ahead) + byte, 0, 3);
}

/* `step` (a statement on element i) over [lo, hi): at least NNF_ACT_STREAM_BYTES of input in
 * blocks of NNF_ACT_BLOCK_BYTES (blk_ elements), each after `prefetch` (SFX(prefetch_span)
 * calls on the inputs for the block at b); shorter ranges (likely in cache, where the blocks
 * cost 5-10%) in one plain loop. */
#define NNF_ACT_STREAM(lo, hi, prefetch, step)                                                 \
    do {                                                                                       \
        const size_t blk_ = NNF_ACT_BLOCK_BYTES / sizeof(T);                                   \
        if (((hi) - (lo)) * sizeof(T) < NNF_ACT_STREAM_BYTES) {                                \
            for (size_t i = (lo); i < (hi); i++)                                               \
                step;                                                                          \
            break;                                                                             \
        }                                                                                      \
        for (size_t b = (lo); b < (hi); b += blk_) {                                           \
            const size_t e = (hi) - b < blk_ ? (hi) : b + blk_;                                \
            prefetch;                                                                          \
            for (size_t i = b; i < e; i++)                                                     \
                step;                                                                          \
        }                                                                                      \
    } while (0)

/* No `restrict` on x/y: in-place calls pass x == y (GCC's runtime alias check allows it). */
#define NNF_ACT_LOOPS(NAME)                                                                    \
    NNF_ACT_HOT static void SFX(fwd_##NAME)(const T *x, T *y, size_t lo, size_t hi)             \
    {                                                                                          \
        NNF_ACT_STREAM(lo, hi, SFX(prefetch_span)(x, b, blk_, hi), y[i] = SFX(f_##NAME)(x[i])); \
    }                                                                                          \
    NNF_ACT_HOT static void SFX(bwd_##NAME)(const T *NNF_RESTRICT s, const T *dy, T *dx,        \
                                           size_t lo, size_t hi)                               \
    {                                                                                          \
        NNF_ACT_STREAM(lo, hi,                                                                 \
                       (SFX(prefetch_span)(s, b, blk_, hi),                                    \
                        SFX(prefetch_span)(dy, b, blk_, hi)),                                  \
                       dx[i] = SFX(g_##NAME)(s[i], dy[i]));                                    \
    }                                                                                          \
    NNF_ACT_HOT static void SFX(bias_##NAME)(T *z, const T *NNF_RESTRICT b, size_t cols,        \
                                            size_t lo, size_t hi)                              \
    {                                                                                          \
        const int stream = (hi - lo) * cols * sizeof(T) >= NNF_ACT_STREAM_BYTES;               \
        for (size_t r = lo; r < hi; r++) {                                                     \
            T *NNF_RESTRICT zr = z + r * cols;                                                 \
            if (stream)                                                                        \
                SFX(prefetch_span)(z, r * cols, cols, hi * cols);                              \
            for (size_t j = 0; j < cols; j++)                                                  \
                zr[j] = SFX(f_##NAME)(zr[j] + b[j]);                                           \
        }                                                                                      \
    }

NNF_ACT_LOOPS(linear)
NNF_ACT_LOOPS(relu)
NNF_ACT_LOOPS(leaky_relu)
NNF_ACT_LOOPS(elu)
NNF_ACT_LOOPS(sigmoid)
NNF_ACT_LOOPS(tanh)
NNF_ACT_LOOPS(gelu)
NNF_ACT_LOOPS(swish)
NNF_ACT_LOOPS(softplus)
#undef NNF_ACT_LOOPS
#undef NNF_ACT_STREAM

typedef void (*SFX(fwd_fn))(const T *, T *, size_t, size_t);
typedef void (*SFX(bwd_fn))(const T *, const T *, T *, size_t, size_t);
typedef void (*SFX(bias_fn))(T *, const T *, size_t, size_t, size_t);

/* Indexed by activation code; NULL for softmax (handled row-wise). */
static const SFX(fwd_fn) SFX(fwd_table)[NNF_ACT_COUNT] = {
    SFX(fwd_linear), SFX(fwd_relu), SFX(fwd_leaky_relu), SFX(fwd_elu), SFX(fwd_sigmoid),
    SFX(fwd_tanh), SFX(fwd_gelu), SFX(fwd_swish), SFX(fwd_softplus), NULL};
static const SFX(bwd_fn) SFX(bwd_table)[NNF_ACT_COUNT] = {
    SFX(bwd_linear), SFX(bwd_relu), SFX(bwd_leaky_relu), SFX(bwd_elu), SFX(bwd_sigmoid),
    SFX(bwd_tanh), SFX(bwd_gelu), SFX(bwd_swish), SFX(bwd_softplus), NULL};
static const SFX(bias_fn) SFX(bias_table)[NNF_ACT_COUNT] = {
    SFX(bias_linear), SFX(bias_relu), SFX(bias_leaky_relu), SFX(bias_elu), SFX(bias_sigmoid),
    SFX(bias_tanh), SFX(bias_gelu), SFX(bias_swish), SFX(bias_softplus), NULL};

void SFX(nnf_act_forward)(int code, size_t n, const T *x, T *y, int nthreads)
{
    if (code < 0 || code >= NNF_ACT_COUNT || code == NNF_ACT_SOFTMAX)
        return;
    if (code == NNF_ACT_LINEAR) {
        if (x != y)
            NNF_PARALLEL_CHUNKS(n, 1, nthreads, memcpy(y + lo, x + lo, (hi - lo) * sizeof(T)));
        return;
    }
    SFX(fwd_fn) f = SFX(fwd_table)[code];
    NNF_PARALLEL_CHUNKS(n, nnf_act_cost_of(code, 0), nthreads, f(x, y, lo, hi));
}

void SFX(nnf_act_backward)(int code, size_t n, const T *s, const T *dy, T *dx, int nthreads)
{
    if (code < 0 || code >= NNF_ACT_COUNT || code == NNF_ACT_SOFTMAX)
        return;
    if (code == NNF_ACT_LINEAR) {
        if (dy != dx)
            NNF_PARALLEL_CHUNKS(n, 1, nthreads, memcpy(dx + lo, dy + lo, (hi - lo) * sizeof(T)));
        return;
    }
    SFX(bwd_fn) f = SFX(bwd_table)[code];
    NNF_PARALLEL_CHUNKS(n, nnf_act_cost_of(code, 1), nthreads, f(s, dy, dx, lo, hi));
}

/* ---- softmax rows ---- */

/* max_j (x_j + b_j) over a row (b may be NULL; `has_bias` is a constant after inlining). */
NNF_INLINE T SFX(row_max)(const T *NNF_RESTRICT x, const T *NNF_RESTRICT b, size_t n,
                          int has_bias)
{
    T m = x[0] + (has_bias ? b[0] : (T)0);
    size_t j = 0;
    if (n >= NNF_LANES) {
        T acc[NNF_LANES];
        for (int k = 0; k < NNF_LANES; k++)
            acc[k] = x[k] + (has_bias ? b[k] : (T)0);
        for (j = NNF_LANES; j + NNF_LANES <= n; j += NNF_LANES) {
            NNF_ACT_NO_UNROLL
            for (int k = 0; k < NNF_LANES; k++) {
                T v = x[j + k] + (has_bias ? b[j + k] : (T)0);
                acc[k] = v > acc[k] ? v : acc[k];
            }
        }
        for (int k = 0; k < NNF_LANES; k++)
            m = acc[k] > m ? acc[k] : m;
    }
    for (; j < n; j++) {
        T v = x[j] + (has_bias ? b[j] : (T)0);
        m = v > m ? v : m;
    }
    return m;
}

/* sum_j y_j over a row with NNF_LANES partial sums (vectorizes without reassociation). */
NNF_INLINE T SFX(row_sum)(const T *NNF_RESTRICT y, size_t n)
{
    T acc[NNF_LANES];
    for (int k = 0; k < NNF_LANES; k++)
        acc[k] = 0;
    size_t j = 0;
    for (; j + NNF_LANES <= n; j += NNF_LANES)
        for (int k = 0; k < NNF_LANES; k++)
            acc[k] += y[j + k];
    T s = 0;
    for (; j < n; j++)
        s += y[j];
    for (int k = 0; k < NNF_LANES; k++)
        s += acc[k];
    return s;
}

/* sum_j exp(x_j - m) without storing (log-softmax: the output may alias x). */
NNF_INLINE T SFX(row_exp_sum)(const T *NNF_RESTRICT x, size_t n, T m)
{
    T acc[NNF_LANES];
    for (int k = 0; k < NNF_LANES; k++)
        acc[k] = 0;
    size_t j = 0;
    for (; j + NNF_LANES <= n; j += NNF_LANES)
        for (int k = 0; k < NNF_LANES; k++)
            acc[k] += EXP(x[j + k] - m);
    T s = 0;
    for (; j < n; j++)
        s += EXP(x[j] - m);
    for (int k = 0; k < NNF_LANES; k++)
        s += acc[k];
    return s;
}

/* y_j := exp(x_j + b_j - m) in a plain loop (vectorized whole), then the sum over y while
 * the row is in L1, then the scaling. */
NNF_INLINE void SFX(softmax_rows)(const T *x, const T *b, T *y, size_t cols, size_t lo,
                                  size_t hi, int has_bias)
{
    for (size_t r = lo; r < hi; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m = SFX(row_max)(xr, b, cols, has_bias);
        for (size_t j = 0; j < cols; j++)
            yr[j] = EXP(xr[j] + (has_bias ? b[j] : (T)0) - m);
        T inv = (T)1 / SFX(row_sum)(yr, cols);
        for (size_t j = 0; j < cols; j++)
            yr[j] *= inv;
    }
}

NNF_ACT_HOT static void SFX(softmax_plain)(const T *x, T *y, size_t cols, size_t lo, size_t hi)
{
    SFX(softmax_rows)(x, NULL, y, cols, lo, hi, 0);
}

NNF_ACT_HOT static void SFX(softmax_bias)(T *z, const T *b, size_t cols, size_t lo, size_t hi)
{
    SFX(softmax_rows)(z, b, z, cols, lo, hi, 1);
}

NNF_ACT_HOT static void SFX(log_softmax_loop)(const T *x, T *y, size_t cols, size_t lo,
                                              size_t hi)
{
    for (size_t r = lo; r < hi; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m = SFX(row_max)(xr, NULL, cols, 0);
        T shift = m + LOG(SFX(row_exp_sum)(xr, cols, m));
        for (size_t j = 0; j < cols; j++)
            yr[j] = xr[j] - shift;
    }
}

NNF_ACT_HOT static void SFX(softmax_bwd_loop)(const T *NNF_RESTRICT y, const T *dy, T *dx,
                                              size_t cols, size_t lo, size_t hi)
{
    for (size_t r = lo; r < hi; r++) {
        const T *NNF_RESTRICT yr = y + r * cols;
        const T *dyr = dy + r * cols;
        T *dxr = dx + r * cols;
        T acc[NNF_LANES];
        for (int k = 0; k < NNF_LANES; k++)
            acc[k] = 0;
        size_t j = 0;
        for (; j + NNF_LANES <= cols; j += NNF_LANES)
            for (int k = 0; k < NNF_LANES; k++)
                acc[k] += dyr[j + k] * yr[j + k];
        T s = 0;
        for (; j < cols; j++)
            s += dyr[j] * yr[j];
        for (int k = 0; k < NNF_LANES; k++)
            s += acc[k];
        for (j = 0; j < cols; j++)
            dxr[j] = yr[j] * (dyr[j] - s);
    }
}

void SFX(nnf_softmax)(size_t rows, size_t cols, const T *x, T *y, int nthreads)
{
    if (rows == 0 || cols == 0)
        return;
    NNF_PARALLEL_CHUNKS(rows, nnf_act_cost_of(NNF_ACT_SOFTMAX, 0) * (double)cols, nthreads,
                        SFX(softmax_plain)(x, y, cols, lo, hi));
}

void SFX(nnf_log_softmax)(size_t rows, size_t cols, const T *x, T *y, int nthreads)
{
    if (rows == 0 || cols == 0)
        return;
    NNF_PARALLEL_CHUNKS(rows, nnf_act_cost_of(NNF_ACT_SOFTMAX, 0) * (double)cols, nthreads,
                        SFX(log_softmax_loop)(x, y, cols, lo, hi));
}

void SFX(nnf_softmax_backward)(size_t rows, size_t cols, const T *y, const T *dy, T *dx,
                               int nthreads)
{
    if (rows == 0 || cols == 0)
        return;
    NNF_PARALLEL_CHUNKS(rows, nnf_act_cost_of(NNF_ACT_SOFTMAX, 1) * (double)cols, nthreads,
                        SFX(softmax_bwd_loop)(y, dy, dx, cols, lo, hi));
}

/* ---- the dense layer's epilogue ---- */

void SFX(nnf_bias_act)(int code, size_t rows, size_t cols, T *z, const T *bias, int nthreads)
{
    if (code < 0 || code >= NNF_ACT_COUNT || rows == 0 || cols == 0)
        return;
    if (code == NNF_ACT_SOFTMAX) {
        if (bias == NULL)
            SFX(nnf_softmax)(rows, cols, z, z, nthreads);
        else
            NNF_PARALLEL_CHUNKS(rows, nnf_act_cost_of(NNF_ACT_SOFTMAX, 0) * (double)cols,
                                nthreads, SFX(softmax_bias)(z, bias, cols, lo, hi));
        return;
    }
    if (bias == NULL) {
        SFX(nnf_act_forward)(code, rows * cols, z, z, nthreads);
        return;
    }
    SFX(bias_fn) f = SFX(bias_table)[code];
    NNF_PARALLEL_CHUNKS(rows, nnf_act_cost_of(code, 0) * (double)cols, nthreads,
                        f(z, bias, cols, lo, hi));
}

/* ---- bias gradient: column sums in fixed row blocks ---- */

/* part[j] := sum_{r in [lo, hi)} g[r, j], in double, rows in order. */
NNF_ACT_HOT static void SFX(colsum_block)(const T *NNF_RESTRICT g, double *NNF_RESTRICT part,
                                          size_t cols, size_t lo, size_t hi)
{
    for (size_t j = 0; j < cols; j++)
        part[j] = 0.0;
    for (size_t r = lo; r < hi; r++) {
        const T *NNF_RESTRICT gr = g + r * cols;
        for (size_t j = 0; j < cols; j++)
            part[j] += (double)gr[j];
    }
}

/* Column sums of the row blocks [blo, bhi) into part[blk * cols ...]. */
static void SFX(colsum_blocks)(const T *g, double *part, size_t rows, size_t cols, size_t blo,
                               size_t bhi)
{
    for (size_t blk = blo; blk < bhi; blk++) {
        size_t r0 = blk * NNF_BIAS_GRAD_BLOCK, r1 = r0 + NNF_BIAS_GRAD_BLOCK;
        SFX(colsum_block)(g, part + blk * cols, cols, r0, r1 < rows ? r1 : rows);
    }
}

int SFX(nnf_bias_grad)(size_t rows, size_t cols, const T *g, T *out, int nthreads)
{
    if (cols == 0)
        return 0;
    size_t nblocks = (rows + NNF_BIAS_GRAD_BLOCK - 1) / NNF_BIAS_GRAD_BLOCK;
    if (nblocks == 0) {
        for (size_t j = 0; j < cols; j++)
            out[j] = 0;
        return 0;
    }
    double *part = (double *)malloc(nblocks * cols * sizeof(double));
    if (part == NULL)
        return -1;
    /* Blocks are spread over threads as NNF_PARALLEL_CHUNKS spreads elements: 16 "units" per
     * block keeps every chunk boundary (a multiple of 16) on a block boundary. */
    NNF_PARALLEL_CHUNKS(nblocks * 16, (double)NNF_BIAS_GRAD_BLOCK * (double)cols / 16.0,
                        nthreads, SFX(colsum_blocks)(g, part, rows, cols, lo / 16, hi / 16));
    for (size_t blk = 1; blk < nblocks; blk++) {
        const double *NNF_RESTRICT pb = part + blk * cols;
        for (size_t j = 0; j < cols; j++)
            part[j] += pb[j];
    }
    for (size_t j = 0; j < cols; j++)
        out[j] = (T)part[j];
    free(part);
    return 0;
}

#endif /* NNF_ACT_TEMPLATE */
