/* nnf_loss.c -- fused losses and their gradients (see nnf_loss.h).
 *
 * The file is compiled once and includes itself twice (NNF_LOSS_PASS defined): once with
 * T = float and the vectorisable float32 math of nnf_math.h, once with T = double and libm.
 *
 * Row losses (softmax cross-entropy) take one row at a time through three sweeps while it is in
 * L1: the max; exp(z - max) into the gradient buffer; the scaled softmax minus the target.
 * Elementwise losses go through the data in tiles of 64: one vectorised loop computes the
 * loss terms and gradients, another adds the terms into 64 double accumulators.
 *
 * Determinism: per-thread chunks are whole blocks (16 rows, or 1024 elements), each block's loss
 * is summed in a fixed order into scratch[block], and the blocks are added in order at the end.
 */
#ifndef NNF_LOSS_PASS

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnf_common.h"
#include "nnf_math.h"
#include "nnf_loss.h"


#if defined(__GNUC__) && !defined(__clang__)
#define NNF_IVDEP NNF_PRAGMA(GCC ivdep)
#else
#define NNF_IVDEP
#endif

#define NNF_LANES 16         /* independent accumulators of a row reduction */
#define NNF_TILE 64          /* elements per tile of an elementwise loss */
/* rows per deterministic partial sum (= nnf_chunk's granularity) */
#define NNF_ROW_BLOCK NNF_LOSS_ROW_BLOCK
#define NNF_ELEM_BLOCK 1024  /* elements per deterministic partial sum */
#define NNF_STACK_BLOCKS 512 /* block sums kept on the stack before falling back to malloc */

/* Relative cost per element, for nnf_team_size. */
#define NNF_COST_SOFTMAX 4
#define NNF_COST_TRANSC 4
#define NNF_COST_SIMPLE 1

enum nnf_elem_kind { NNF_K_MSE, NNF_K_MAE, NNF_K_HUBER, NNF_K_SIGMOID, NNF_K_BINARY, NNF_K_PROBS };

/* exp(x) for x <= 0, the arguments of a max-shifted softmax: nnf_expf's reduction and
 * polynomial (same accuracy) without its overflow and subnormal handling; results below
 * exp(-87) (< 2**-125, nothing next to the row's sum >= 1) are flushed to 0; nan stays nan. */
NNF_ALWAYS_INLINE float nnf_softmax_expf(float x)
{
    float e = nnf_exp_normalf(x < -87.0f ? -87.0f : x);
    return x < -87.0f ? 0.0f : e;
}

/* Sum of `nb` block sums in block order (four interleaved accumulators, fixed association). */
static double nnf_sum_blocks(const double *blk, size_t nb)
{
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    size_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        a0 += blk[b];
        a1 += blk[b + 1];
        a2 += blk[b + 2];
        a3 += blk[b + 3];
    }
    for (; b < nb; b++)
        a0 += blk[b];
    return (a0 + a1) + (a2 + a3);
}

double nnf_loss_sum_blocks(const double *blk, size_t nb) { return nnf_sum_blocks(blk, nb); }

/* Scratch for `nb` block sums: the stack buffer when it fits, else the heap (NULL on failure). */
static double *nnf_blocks_alloc(size_t nb, double *stack)
{
    return nb <= NNF_STACK_BLOCKS ? stack : (double *)malloc(nb * sizeof(double));
}

static void nnf_blocks_free(double *blk, double *stack)
{
    if (blk != stack)
        free(blk);
}

/* ---- float ---- */
#define NNF_LOSS_PASS 1
#define T float
#define S(name) name##_f32
#define EXP nnf_expf
#define EXP_SHIFTED nnf_softmax_expf
#define LOG nnf_logf
#define LOG1P nnf_log1pf
#include "nnf_loss.c"
#undef T
#undef S
#undef EXP
#undef EXP_SHIFTED
#undef LOG
#undef LOG1P

/* ---- double ---- */
#define T double
#define S(name) name##_f64
#define EXP exp
#define EXP_SHIFTED exp
#define LOG log
#define LOG1P log1p
#include "nnf_loss.c"
#undef T
#undef S
#undef EXP
#undef EXP_SHIFTED
#undef LOG
#undef LOG1P
#undef NNF_LOSS_PASS

#else /* NNF_LOSS_PASS: the dtype-generic implementation, T and S() defined by the includer */

/* ------------------------------------------------------------------------------------------ */
/* Row reductions                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* max_j z[j] (c >= 1).  GCC vectorises a max reduction only when told the order is free (it
 * is: max is exact); without OpenMP the pragma is ignored and the loop runs scalar. */
NNF_ALWAYS_INLINE T S(nnf_row_max)(const T *z, size_t c)
{
    T m = z[0];
    NNF_PRAGMA(omp simd reduction(max : m))
    for (size_t j = 1; j < c; j++)
        m = z[j] > m ? z[j] : m;
    return m;
}

/* sum_j x[j]. */
NNF_ALWAYS_INLINE T S(nnf_row_sum)(const T *x, size_t c)
{
    T acc[NNF_LANES] = {0};
    size_t j = 0;
    for (; j + NNF_LANES <= c; j += NNF_LANES)
        for (int l = 0; l < NNF_LANES; l++)
            acc[l] += x[j + l];
    T s = 0;
    for (int l = 0; l < NNF_LANES; l++)
        s += acc[l];
    for (; j < c; j++)
        s += x[j];
    return s;
}

/* sum_j t[j]·(m - z[j]): every term >= 0 when t >= 0, so no cancellation. */
NNF_ALWAYS_INLINE T S(nnf_row_dot_shift)(const T *t, const T *z, T m, size_t c)
{
    T acc[NNF_LANES] = {0};
    size_t j = 0;
    for (; j + NNF_LANES <= c; j += NNF_LANES)
        for (int l = 0; l < NNF_LANES; l++)
            acc[l] += t[j + l] * (m - z[j + l]);
    T s = 0;
    for (int l = 0; l < NNF_LANES; l++)
        s += acc[l];
    for (; j < c; j++)
        s += t[j] * (m - z[j]);
    return s;
}

/* sum_j (m - z[j]). */
NNF_ALWAYS_INLINE T S(nnf_row_sum_shift)(const T *z, T m, size_t c)
{
    T acc[NNF_LANES] = {0};
    size_t j = 0;
    for (; j + NNF_LANES <= c; j += NNF_LANES)
        for (int l = 0; l < NNF_LANES; l++)
            acc[l] += m - z[j + l];
    T s = 0;
    for (int l = 0; l < NNF_LANES; l++)
        s += acc[l];
    for (; j < c; j++)
        s += m - z[j];
    return s;
}

/* e[j] = exp(z[j] - m); returns sum_j e[j].  `e` may be `z` (same index read then written). */
NNF_ALWAYS_INLINE T S(nnf_row_exp_shift)(const T *z, T m, T *e, size_t c)
{
    NNF_IVDEP
    for (size_t j = 0; j < c; j++)
        e[j] = EXP_SHIFTED(z[j] - m);
    return S(nnf_row_sum)(e, c);
}

/* ------------------------------------------------------------------------------------------ */
/* Softmax cross-entropy, sparse labels                                                        */
/* ------------------------------------------------------------------------------------------ */

static NNF_CLONES void S(nnf_softmax_xent_block_rows)(size_t c, const T *z,
                                                      const intptr_t *labels, const T *w, T eps,
                                                      T scale, T *g, double *blk, size_t lo,
                                                      size_t hi)
{
    const T keep = (T)1 - eps, spread = eps / (T)c;
    for (size_t b = lo; b < hi; b += NNF_ROW_BLOCK) {
        size_t bend = b + NNF_ROW_BLOCK < hi ? b + NNF_ROW_BLOCK : hi;
        double acc = 0.0;
        for (size_t i = b; i < bend; i++) {
            const T *zi = z + i * c;
            T *gi = g + i * c;
            size_t y = (size_t)labels[i];
            T wi = w ? w[i] : (T)1;
            T zy = zi[y];
            T m = S(nnf_row_max)(zi, c);
            double shift = eps > 0 ? (double)S(nnf_row_sum_shift)(zi, m, c) : 0.0;
            T s = S(nnf_row_exp_shift)(zi, m, gi, c);
            double li = log((double)s) + (double)keep * ((double)m - (double)zy)
                        + (double)spread * shift;
            acc += (double)wi * li;
            T ws = scale * wi;
            T a = ws / s, off = ws * spread;
            NNF_IVDEP
            for (size_t j = 0; j < c; j++)
                gi[j] = gi[j] * a - off;
            gi[y] -= ws * keep;
        }
        blk[b / NNF_ROW_BLOCK] = acc;
    }
}

void S(nnf_softmax_xent_rows)(size_t c, const T *z, const intptr_t *labels, const T *w, T eps,
                              T scale, T *g, double *blk, size_t lo, size_t hi)
{
    S(nnf_softmax_xent_block_rows)(c, z, labels, w, eps, scale, g, blk, lo, hi);
}

int S(nnf_softmax_xent)(size_t n, size_t c, const T *z, const intptr_t *labels, const T *w,
                        T eps, T scale, T *g, double *loss_sum, int nthreads)
{
    double stack[NNF_STACK_BLOCKS];
    size_t nb = (n + NNF_ROW_BLOCK - 1) / NNF_ROW_BLOCK;
    double *blk = nnf_blocks_alloc(nb, stack);
    if (!blk)
        return -1;
    NNF_PARALLEL_CHUNKS(n, c * NNF_COST_SOFTMAX, nthreads,
                        S(nnf_softmax_xent_block_rows)(c, z, labels, w, eps, scale, g, blk, lo,
                                                       hi));
    *loss_sum = nnf_sum_blocks(blk, nb);
    nnf_blocks_free(blk, stack);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Softmax cross-entropy, dense targets                                                        */
/* ------------------------------------------------------------------------------------------ */

static NNF_CLONES void S(nnf_categorical_xent_block_rows)(size_t c, const T *z, const T *t,
                                                          const T *w, T eps, T scale, T *g,
                                                          double *blk, size_t lo, size_t hi)
{
    const T keep = (T)1 - eps, spread = eps / (T)c;
    for (size_t b = lo; b < hi; b += NNF_ROW_BLOCK) {
        size_t bend = b + NNF_ROW_BLOCK < hi ? b + NNF_ROW_BLOCK : hi;
        double acc = 0.0;
        for (size_t i = b; i < bend; i++) {
            const T *zi = z + i * c, *ti = t + i * c;
            T *gi = g + i * c;
            T wi = w ? w[i] : (T)1;
            T m = S(nnf_row_max)(zi, c);
            T tsum = S(nnf_row_sum)(ti, c);
            double dot = (double)S(nnf_row_dot_shift)(ti, zi, m, c);
            double shift = eps > 0 ? (double)S(nnf_row_sum_shift)(zi, m, c) : 0.0;
            T s = S(nnf_row_exp_shift)(zi, m, gi, c);
            T total = keep * tsum + eps; /* sum_j t'_ij */
            double li = (double)total * log((double)s) + (double)keep * dot
                        + (double)spread * shift;
            acc += (double)wi * li;
            T ws = scale * wi;
            T a = ws * total / s, bt = ws * keep, off = ws * spread;
            NNF_IVDEP
            for (size_t j = 0; j < c; j++)
                gi[j] = gi[j] * a - ti[j] * bt - off;
        }
        blk[b / NNF_ROW_BLOCK] = acc;
    }
}

void S(nnf_categorical_xent_rows)(size_t c, const T *z, const T *t, const T *w, T eps, T scale,
                                  T *g, double *blk, size_t lo, size_t hi)
{
    S(nnf_categorical_xent_block_rows)(c, z, t, w, eps, scale, g, blk, lo, hi);
}

int S(nnf_categorical_xent)(size_t n, size_t c, const T *z, const T *t, const T *w, T eps,
                            T scale, T *g, double *loss_sum, int nthreads)
{
    double stack[NNF_STACK_BLOCKS];
    size_t nb = (n + NNF_ROW_BLOCK - 1) / NNF_ROW_BLOCK;
    double *blk = nnf_blocks_alloc(nb, stack);
    if (!blk)
        return -1;
    NNF_PARALLEL_CHUNKS(n, c * (NNF_COST_SOFTMAX + 1), nthreads,
                        S(nnf_categorical_xent_block_rows)(c, z, t, w, eps, scale, g, blk, lo,
                                                           hi));
    *loss_sum = nnf_sum_blocks(blk, nb);
    nnf_blocks_free(blk, stack);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Cross-entropy of probabilities, sparse labels                                               */
/* ------------------------------------------------------------------------------------------ */

static NNF_CLONES void S(nnf_probs_xent_sparse_rows)(size_t c, const T *p,
                                                     const intptr_t *labels, const T *w,
                                                     T clip, T scale, T *g, double *blk,
                                                     size_t lo, size_t hi)
{
    const T top = (T)1 - clip;
    for (size_t b = lo; b < hi; b += NNF_ROW_BLOCK) {
        size_t bend = b + NNF_ROW_BLOCK < hi ? b + NNF_ROW_BLOCK : hi;
        double acc = 0.0;
        for (size_t i = b; i < bend; i++) {
            size_t y = (size_t)labels[i];
            T wi = w ? w[i] : (T)1;
            T py = p[i * c + y];
            int clipped = py < clip || py > top;
            T pc = py < clip ? clip : (py > top ? top : py);
            acc += (double)wi * -log((double)pc);
            T *gi = g + i * c;
            for (size_t j = 0; j < c; j++)
                gi[j] = 0;
            gi[y] = clipped ? (T)0 : -(scale * wi) / py;
        }
        blk[b / NNF_ROW_BLOCK] = acc;
    }
}

int S(nnf_probs_xent_sparse)(size_t n, size_t c, const T *p, const intptr_t *labels,
                             const T *w, T clip, T scale, T *g, double *loss_sum, int nthreads)
{
    double stack[NNF_STACK_BLOCKS];
    size_t nb = (n + NNF_ROW_BLOCK - 1) / NNF_ROW_BLOCK;
    double *blk = nnf_blocks_alloc(nb, stack);
    if (!blk)
        return -1;
    NNF_PARALLEL_CHUNKS(n, c * NNF_COST_SIMPLE, nthreads,
                        S(nnf_probs_xent_sparse_rows)(c, p, labels, w, clip, scale, g, blk, lo,
                                                      hi));
    *loss_sum = nnf_sum_blocks(blk, nb);
    nnf_blocks_free(blk, stack);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Elementwise losses                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Parameters of one elementwise loss (a1, a2, clip: see each case of nnf_elem_terms). */
typedef struct {
    int kind;
    T a1, a2, clip;
} S(nnf_elem_params);

/* Loss terms l[j] (unweighted) and gradients g[j] = ws[j]·dl/dp[j] for j < len (len <= TILE).
 * `g` may be `p` (in place): each index is read before it is written. */
NNF_ALWAYS_INLINE void S(nnf_elem_terms)(S(nnf_elem_params) prm, size_t len, const T *p,
                                         const T *t, const T *ws, T *l, T *g)
{
    const T a1 = prm.a1, a2 = prm.a2, clip = prm.clip, top = (T)1 - prm.clip;
    T ex[NNF_TILE];
    switch (prm.kind) {
    case NNF_K_MSE:
        NNF_IVDEP
        for (size_t j = 0; j < len; j++) {
            T r = p[j] - t[j];
            l[j] = r * r;
            g[j] = (T)2 * r * ws[j];
        }
        break;
    case NNF_K_MAE:
        NNF_IVDEP
        for (size_t j = 0; j < len; j++) {
            T r = p[j] - t[j];
            l[j] = r < 0 ? -r : r;
            g[j] = r > 0 ? ws[j] : (r < 0 ? -ws[j] : r * ws[j]); /* 0 at 0, nan stays nan */
        }
        break;
    case NNF_K_HUBER: /* a1 = delta */
        NNF_IVDEP
        for (size_t j = 0; j < len; j++) {
            T r = p[j] - t[j];
            T ar = r < 0 ? -r : r;
            l[j] = ar <= a1 ? (T)0.5 * r * r : a1 * (ar - (T)0.5 * a1);
            T rc = r < -a1 ? -a1 : (r > a1 ? a1 : r);
            g[j] = rc * ws[j];
        }
        break;
    case NNF_K_SIGMOID: /* logits p; t' = t·a1 + a2 */
        /* Two loops: GCC 12 does not vectorise nnf_expf and nnf_log1pf in one loop body. */
        for (size_t j = 0; j < len; j++) {
            T x = p[j];
            ex[j] = EXP(x < 0 ? x : -x);
        }
        NNF_IVDEP
        for (size_t j = 0; j < len; j++) {
            T x = p[j], e = ex[j];
            T tt = t[j] * a1 + a2;
            l[j] = (x > 0 ? x : (T)0) - x * tt + LOG1P(e);
            T r = (T)1 / ((T)1 + e);
            T sg = x < 0 ? e * r : r;
            g[j] = (sg - tt) * ws[j];
        }
        break;
    case NNF_K_BINARY: /* probabilities p; t' = t·a1 + a2; p and 1-p clipped to [clip, top] */
        NNF_IVDEP
        for (size_t j = 0; j < len; j++) {
            T pj = p[j];
            T q = (T)1 - pj; /* exact for pj in [1/2, 1]: the clip near 1 is taken on q */
            T tt = t[j] * a1 + a2;
            T pc = pj < clip ? clip : (pj > top ? top : pj);
            T qc = q < clip ? clip : (q > top ? top : q);
            l[j] = -(tt * LOG(pc) + ((T)1 - tt) * LOG(qc));
            T d = (pj - tt) / (pj * q);
            g[j] = (pj < clip || q < clip) ? (T)0 : d * ws[j];
        }
        break;
    default: /* NNF_K_PROBS: probabilities p clipped to [clip, top], dense targets t */
        NNF_IVDEP
        for (size_t j = 0; j < len; j++) {
            T pj = p[j], tj = t[j];
            T pc = pj < clip ? clip : (pj > top ? top : pj);
            l[j] = -tj * LOG(pc);
            T d = -tj / pj;
            g[j] = (pj < clip || pj > top) ? (T)0 : d * ws[j];
        }
        break;
    }
}

/* Sum of the loss terms over [e0, e1) (element weights w[row]) with gradients written. */
NNF_ALWAYS_INLINE double S(nnf_elem_range)(S(nnf_elem_params) prm, size_t k,
                                           const T *p, const T *t, const T *w, T scale, T *g,
                                           size_t e0, size_t e1)
{
    double acc[NNF_TILE];
    T l[NNF_TILE], ws[NNF_TILE], wl[NNF_TILE];
    for (int u = 0; u < NNF_TILE; u++)
        acc[u] = 0.0;
    size_t row = w ? e0 / k : 0, row_end = w ? (row + 1) * k : (size_t)-1;
    if (!w)
        for (int u = 0; u < NNF_TILE; u++) {
            ws[u] = scale;
            wl[u] = (T)1;
        }
    for (size_t e = e0; e < e1; e += NNF_TILE) {
        size_t len = e1 - e < NNF_TILE ? e1 - e : NNF_TILE;
        if (w) { /* per-element weights of this tile: w of each element's row */
            for (size_t u = 0; u < len; u++) {
                if (e + u >= row_end) {
                    row = (e + u) / k;
                    row_end = (row + 1) * k;
                }
                wl[u] = w[row];
                ws[u] = scale * w[row];
            }
        }
        S(nnf_elem_terms)(prm, len, p + e, t + e, ws, l, g + e);
        if (len == NNF_TILE) {
            for (int u = 0; u < NNF_TILE; u++)
                acc[u] += (double)(wl[u] * l[u]);
        } else {
            for (size_t u = 0; u < len; u++)
                acc[u] += (double)(wl[u] * l[u]);
        }
    }
    double s = 0.0;
    for (int u = 0; u < NNF_TILE; u++)
        s += acc[u];
    return s;
}

static NNF_CLONES void S(nnf_elem_blocks)(S(nnf_elem_params) prm, size_t count,
                                          size_t k, const T *p, const T *t, const T *w, T scale,
                                          T *g, double *blk, size_t lo, size_t hi)
{
    for (size_t b = lo; b < hi; b++) {
        size_t e0 = b * NNF_ELEM_BLOCK;
        size_t e1 = e0 + NNF_ELEM_BLOCK < count ? e0 + NNF_ELEM_BLOCK : count;
        blk[b] = S(nnf_elem_range)(prm, k, p, t, w, scale, g, e0, e1);
    }
}

static int S(nnf_elem_loss)(S(nnf_elem_params) prm, int cost, size_t n, size_t k,
                            const T *p, const T *t, const T *w, T scale, T *g,
                            double *loss_sum, int nthreads)
{
    double stack[NNF_STACK_BLOCKS];
    size_t count = n * k;
    size_t nb = (count + NNF_ELEM_BLOCK - 1) / NNF_ELEM_BLOCK;
    double *blk = nnf_blocks_alloc(nb, stack);
    if (!blk)
        return -1;
    NNF_PARALLEL_CHUNKS(nb, NNF_ELEM_BLOCK * cost, nthreads,
                        S(nnf_elem_blocks)(prm, count, k, p, t, w, scale, g, blk, lo, hi));
    *loss_sum = nnf_sum_blocks(blk, nb);
    nnf_blocks_free(blk, stack);
    return 0;
}

int S(nnf_probs_xent_dense)(size_t n, size_t k, const T *p, const T *t, const T *w, T clip,
                            T scale, T *g, double *loss_sum, int nthreads)
{
    S(nnf_elem_params) prm = {NNF_K_PROBS, 0, 0, clip};
    return S(nnf_elem_loss)(prm, NNF_COST_TRANSC, n, k, p, t, w, scale, g, loss_sum,
                            nthreads);
}

int S(nnf_binary_xent)(size_t n, size_t k, const T *p, const T *t, const T *w, T eps, T clip,
                       T scale, T *g, double *loss_sum, int nthreads)
{
    S(nnf_elem_params) prm = {NNF_K_BINARY, (T)1 - eps, eps / (T)2, clip};
    return S(nnf_elem_loss)(prm, 2 * NNF_COST_TRANSC, n, k, p, t, w, scale, g, loss_sum,
                            nthreads);
}

int S(nnf_sigmoid_xent)(size_t n, size_t k, const T *x, const T *t, const T *w, T eps,
                        T scale, T *g, double *loss_sum, int nthreads)
{
    S(nnf_elem_params) prm = {NNF_K_SIGMOID, (T)1 - eps, eps / (T)2, 0};
    return S(nnf_elem_loss)(prm, 2 * NNF_COST_TRANSC, n, k, x, t, w, scale, g, loss_sum,
                            nthreads);
}

int S(nnf_mse_loss)(size_t n, size_t k, const T *p, const T *t, const T *w, T scale, T *g,
                    double *loss_sum, int nthreads)
{
    S(nnf_elem_params) prm = {NNF_K_MSE, 0, 0, 0};
    return S(nnf_elem_loss)(prm, NNF_COST_SIMPLE, n, k, p, t, w, scale, g, loss_sum,
                            nthreads);
}

int S(nnf_mae_loss)(size_t n, size_t k, const T *p, const T *t, const T *w, T scale, T *g,
                    double *loss_sum, int nthreads)
{
    S(nnf_elem_params) prm = {NNF_K_MAE, 0, 0, 0};
    return S(nnf_elem_loss)(prm, NNF_COST_SIMPLE, n, k, p, t, w, scale, g, loss_sum,
                            nthreads);
}

int S(nnf_huber_loss)(size_t n, size_t k, const T *p, const T *t, const T *w, T delta,
                      T scale, T *g, double *loss_sum, int nthreads)
{
    S(nnf_elem_params) prm = {NNF_K_HUBER, delta, 0, 0};
    return S(nnf_elem_loss)(prm, NNF_COST_SIMPLE, n, k, p, t, w, scale, g, loss_sum,
                            nthreads);
}

#endif /* NNF_LOSS_PASS */
