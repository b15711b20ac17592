/* nnf_mlp.c -- whole training steps and inference of a Dense/Activation/Dropout/BatchNorm/
 * LayerNorm stack.
 *
 * float and double are written once: this file includes itself twice with T set to each type
 * (the part after `#else` is the template, every function renamed by SFX()). The step reuses
 * the project's kernels (nnf_act, nnf_loss, nnf_norm, nnf_optim) and calls them exactly as the
 * model's per-layer Python path does, so both give the same bits; what it adds is the driver
 * (no Python between kernels, no per-step validation or allocation), the batch gather, and a
 * bias gradient that sums into preallocated scratch in nnf_bias_grad's order.
 */
#ifndef NNF_MLP_TEMPLATE

#include "nnf_mlp.h"

#include <math.h>
#include <string.h>

#include "nnf_act.h"
#include "nnf_common.h"
#include "nnf_loss.h"
#include "nnf_math.h"
#include "nnf_norm.h"
#include "nnf_optim.h"
#include "nnf_sgemm.h"

/* Rows per partial sum of the bias gradient: nnf_act.h's NNF_BIAS_GRAD_BLOCK, so the sums are
 * added in the same order as nnf_bias_grad's. */
#define NNF_MLP_BLOCK NNF_BIAS_GRAD_BLOCK

/* Inference batches of at most this many rows skip BLAS (row-by-row kernel below): measured
 * 784-256-128-10 float32 batch 1, sgemm ~200 us (it packs every weight matrix), rows ~15 us.
 * float32 on AVX2 takes up to nnf_sgemm_rows_max() rows (its kernel reads W once per 4 rows). */
#define NNF_MLP_ROWWISE_MAX 2

/* l1·a + l2·b with each product rounded before the sum (nnfast.regularizers' Python-float
 * arithmetic: `total = 0.0; total += l1·Σ|w|; total += l2·Σw²`): the volatile keeps the
 * compiler from contracting a product and the sum into one fused multiply-add. */
static double mlp_penalty_terms(double l1, double sum_abs, double l2, double sum_sq)
{
    volatile double term;
    double total = 0.0;
    if (l1 != 0.0) {
        term = l1 * sum_abs;
        total += term;
    }
    if (l2 != 0.0) {
        term = l2 * sum_sq;
        total += term;
    }
    return total;
}

#define NNF_MLP_TEMPLATE 1

#define T float
#define SFX(name) name##_f32
#define GEMM_FN nnf_sgemm_fn
#define SIGMOID nnf_sigmoidf
#define NNF_MLP_IS_F32 1
#include "nnf_mlp.c"
#undef NNF_MLP_IS_F32
#undef T
#undef SFX
#undef GEMM_FN
#undef SIGMOID

#define T double
#define SFX(name) name##_f64
#define GEMM_FN nnf_dgemm_fn
#define SIGMOID nnf_sigmoid
#define NNF_MLP_IS_F32 0
#include "nnf_mlp.c"
#undef NNF_MLP_IS_F32
#undef T
#undef SFX
#undef GEMM_FN
#undef SIGMOID

#else /* ------------------------------------------------------------ the T template ---- */

/* C (m x n, row-major, row stride ldc) := op(A)·op(B); op(A) is m x k, op(B) is k x n; lda/ldb
 * are the row strides of A and B as stored. Row-major is column-major transposed: swap the
 * operands. */
static void SFX(mlp_gemm_ld)(GEMM_FN gemm, int trans_a, int trans_b, size_t m, size_t n,
                             size_t k, const T *a, size_t lda, const T *b, size_t ldb, T *c,
                             size_t ldc)
{
    char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
    int im = (int)m, in = (int)n, ik = (int)k, ilda = (int)lda, ildb = (int)ldb, ildc = (int)ldc;
    if (m == 0 || n == 0)
        return;
    T one = 1, zero = 0;
    gemm(&tb, &ta, &in, &im, &ik, &one, (T *)b, &ildb, (T *)a, &ilda, &zero, c, &ildc);
}

/* C (m x n, ldc = n) := op(A)·op(B). */
static void SFX(mlp_gemm)(GEMM_FN gemm, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          const T *a, size_t lda, const T *b, size_t ldb, T *c)
{
    SFX(mlp_gemm_ld)(gemm, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, n);
}

/* y (1 x out) := x (1 x in) · W[:, :out] (W row-major, row stride ldw): columns in blocks of NNF_MLP_ROW_BLOCK
 * accumulated over k in order, the block held in registers (the batch-1 forward: BLAS ?gemm
 * would pack all of W for one row). The portable loop: float32 on AVX2 or AVX-512 runs
 * nnf_sgemm_rows instead (nnf_sgemm.c; 784 x 256 on Zen 3: 12.8 against 15.8 us). */
#define NNF_MLP_ROW_BLOCK 64
NNF_CLONES static void SFX(mlp_row_gemm_cols)(const T *NNF_RESTRICT x,
                                                  const T *NNF_RESTRICT W, T *NNF_RESTRICT y,
                                                  size_t in, size_t ldw, size_t out)
{
    size_t j0 = 0;
    for (; j0 + NNF_MLP_ROW_BLOCK <= out; j0 += NNF_MLP_ROW_BLOCK) {
        T acc[NNF_MLP_ROW_BLOCK] = {0};
        for (size_t k = 0; k < in; k++) {
            const T xk = x[k];
            const T *NNF_RESTRICT wk = W + k * ldw + j0;
            for (size_t j = 0; j < NNF_MLP_ROW_BLOCK; j++)
                acc[j] += xk * wk[j];
        }
        for (size_t j = 0; j < NNF_MLP_ROW_BLOCK; j++)
            y[j0 + j] = acc[j];
    }
    if (j0 < out) {
        size_t w = out - j0;
        for (size_t j = 0; j < w; j++)
            y[j0 + j] = 0;
        for (size_t k = 0; k < in; k++) {
            const T xk = x[k];
            const T *NNF_RESTRICT wk = W + k * ldw + j0;
            T *NNF_RESTRICT yr = y + j0;
            for (size_t j = 0; j < w; j++)
                yr[j] += xk * wk[j];
        }
    }
}

/* The most rows of an inference chunk the row kernels take (more go to ?gemm). */
static size_t SFX(mlp_rowwise_max)(void)
{
#if NNF_MLP_IS_F32
    return (size_t)nnf_sgemm_rows_max();
#else
    return NNF_MLP_ROWWISE_MAX;
#endif
}

/* y (1 x out) := x · W for W (in x out) with row stride out. */
static void SFX(mlp_row_gemm)(const T *x, const T *W, T *y, size_t in, size_t out)
{
    SFX(mlp_row_gemm_cols)(x, W, y, in, out, out);
}

/* part[j] := sum over rows [lo, hi) of g[r, j] (row stride ld), in double, rows in order. */
NNF_CLONES static void SFX(mlp_colsum)(const T *NNF_RESTRICT g, double *NNF_RESTRICT part,
                                           size_t cols, size_t ld, size_t lo, size_t hi)
{
    for (size_t j = 0; j < cols; j++)
        part[j] = 0.0;
    for (size_t r = lo; r < hi; r++) {
        const T *NNF_RESTRICT gr = g + r * ld;
        for (size_t j = 0; j < cols; j++)
            part[j] += (double)gr[j];
    }
}

/* out_j := sum_i g_ij (rows x cols, row stride ld), blocks of NNF_MLP_BLOCK rows summed in
 * double and added in block order: the bits of nnf_bias_grad, without its allocation
 * (scratch: 2·cols doubles). */
static void SFX(mlp_bias_grad)(size_t rows, size_t cols, size_t ld, const T *g, T *out,
                               double *scratch)
{
    double *acc = scratch, *part = scratch + cols;
    size_t r1 = rows < NNF_MLP_BLOCK ? rows : NNF_MLP_BLOCK;
    SFX(mlp_colsum)(g, acc, cols, ld, 0, r1);
    for (size_t r0 = NNF_MLP_BLOCK; r0 < rows; r0 += NNF_MLP_BLOCK) {
        r1 = r0 + NNF_MLP_BLOCK < rows ? r0 + NNF_MLP_BLOCK : rows;
        SFX(mlp_colsum)(g, part, cols, ld, r0, r1);
        for (size_t j = 0; j < cols; j++)
            acc[j] += part[j];
    }
    for (size_t j = 0; j < cols; j++)
        out[j] = (T)acc[j];
}

/* Index of the first maximum of x[0..k) (numpy.argmax's choice). */
NNF_INLINE size_t SFX(mlp_argmax)(const T *x, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        best = x[j] > x[best] ? j : best;
    return best;
}

/* The accuracy metric's correct count over m rows of outputs y (m x k). */
static double SFX(mlp_correct)(int metric, size_t m, size_t k, const T *y, const T *t,
                               const intptr_t *labels)
{
    size_t hits = 0;
    for (size_t i = 0; i < m; i++) {
        const T *yr = y + i * k;
        switch (metric) {
        case NNF_MLP_COUNT_ARGMAX_LABEL:
            hits += (intptr_t)SFX(mlp_argmax)(yr, k) == labels[i];
            break;
        case NNF_MLP_COUNT_ARGMAX_DENSE:
            hits += SFX(mlp_argmax)(yr, k) == SFX(mlp_argmax)(t + i * k, k);
            break;
        case NNF_MLP_COUNT_SIGMOID:
            hits += (SIGMOID(yr[0]) > (T)0.5) == (t[i] > (T)0.5);
            break;
        case NNF_MLP_COUNT_THRESHOLD:
            hits += (yr[0] > (T)0.5) == (t[i] > (T)0.5);
            break;
        default:
            break;
        }
    }
    return (double)hits;
}

/* (loss sum, dL/dy into g) of m rows; returns 0 or -1 (scratch). Same calls as nnfast.losses. */
static int SFX(mlp_loss)(const nnf_mlp_plan *p, size_t m, const T *y, const T *t,
                         const intptr_t *labels, const T *w, T *g, double *loss, int nthreads)
{
    size_t k = p->out_dim;
    double total = 0.0, count = (double)(p->loss <= NNF_MLP_CATEGORICAL_XENT ? m : m * k);
    T scale = (T)(1.0 / count), prm = (T)p->loss_param;
    int status = 0;
    switch (p->loss) {
    case NNF_MLP_SPARSE_XENT:
        status = SFX(nnf_softmax_xent)(m, k, y, labels, w, 0, scale, g, &total, nthreads);
        break;
    case NNF_MLP_CATEGORICAL_XENT:
        status = SFX(nnf_categorical_xent)(m, k, y, t, w, prm, scale, g, &total, nthreads);
        break;
    case NNF_MLP_SIGMOID_XENT:
        status = SFX(nnf_sigmoid_xent)(m, k, y, t, w, prm, scale, g, &total, nthreads);
        break;
    case NNF_MLP_MSE:
        status = SFX(nnf_mse_loss)(m, k, y, t, w, scale, g, &total, nthreads);
        break;
    case NNF_MLP_MAE:
        status = SFX(nnf_mae_loss)(m, k, y, t, w, scale, g, &total, nthreads);
        break;
    default:
        status = SFX(nnf_huber_loss)(m, k, y, t, w, prm, scale, g, &total, nthreads);
        break;
    }
    *loss = total / count;
    return status;
}

/* y := act(h) for an Activation layer (code LINEAR copies). */
static void SFX(mlp_act_forward)(int code, size_t m, size_t d, const T *h, T *y, int nthreads)
{
    if (code == NNF_ACT_LINEAR)
        memcpy(y, h, m * d * sizeof(T));
    else if (code == NNF_ACT_SOFTMAX)
        SFX(nnf_softmax)(m, d, h, y, nthreads);
    else
        SFX(nnf_act_forward)(code, m * d, h, y, nthreads);
}

/* dx := dy·act'(.) from the layer's input h or output y, as the activation needs. */
static void SFX(mlp_act_backward)(int code, size_t m, size_t d, const T *h, const T *y,
                                  const T *dy, T *dx, int nthreads)
{
    if (code == NNF_ACT_LINEAR) {
        if (dx != dy)
            memcpy(dx, dy, m * d * sizeof(T));
    } else if (code == NNF_ACT_SOFTMAX) {
        SFX(nnf_softmax_backward)(m, d, y, dy, dx, nthreads);
    } else {
        const T *s = nnf_act_backward_uses_output(code) ? y : h;
        SFX(nnf_act_backward)(code, m * d, s, dy, dx, nthreads);
    }
}

/* A Dense layer's forward: dst := act(h·W + b); z (keeps_z) receives h·W + b first. */
static void SFX(mlp_dense_forward)(GEMM_FN gemm, const nnf_mlp_layer *L, int code, int keeps_z,
                                   size_t m, const T *h, const T *params, T *z, T *dst,
                                   int rowwise, int nthreads)
{
    const T *W = params + L->w;
    const T *b = L->b == NNF_MLP_NONE ? NULL : params + L->b;
    T *target = code == NNF_ACT_LINEAR || !keeps_z ? dst : z;
    if (rowwise) {
#if NNF_MLP_IS_F32
        if (nnf_sgemm_rows(h, L->in, m, W, L->out, target, L->out, L->in, L->out) != 0)
#endif
            for (size_t r = 0; r < m; r++)
                SFX(mlp_row_gemm)(h + r * L->in, W, target + r * L->out, L->in, L->out);
    } else
        SFX(mlp_gemm)(gemm, 0, 0, m, L->out, L->in, h, L->in, W, L->out, target);
    if (target == dst) {
        SFX(nnf_bias_act)(code, m, L->out, dst, b, nthreads);
    } else {
        SFX(nnf_bias_act)(NNF_ACT_LINEAR, m, L->out, z, b, nthreads);
        SFX(mlp_act_forward)(code, m, L->out, z, dst, nthreads);
    }
}

/* Gradient clipping before the update (nnf_mlp.h's enum nnf_mlp_clip): the kernels and the
 * order of nnfast.optimizers.Optimizer.step and nnfast._ops.optim, so the same bits. */
static void SFX(mlp_clip)(const nnf_mlp_plan *p, T *grads, int nthreads)
{
    if (p->clip == NNF_MLP_CLIP_NORM) {
        for (size_t t = 0; t < p->n_tensors; t++) {
            size_t lo = p->tensors[2 * t], n = p->tensors[2 * t + 1] - lo;
            double norm = n ? sqrt(SFX(nnf_sum_squares)(n, grads + lo, nthreads)) : 0.0;
            if (!(norm <= p->clip_max)) /* a NaN norm poisons the tensor, as Keras does */
                SFX(nnf_scale)(n, grads + lo, p->clip_max / norm, nthreads);
        }
    } else if (p->clip == NNF_MLP_CLIP_VALUE) {
        for (size_t r = 0; r < p->n_runs; r++) {
            size_t lo = p->runs[2 * r], n = p->runs[2 * r + 1] - lo;
            if (n)
                SFX(nnf_clip_value)(n, grads + lo, p->clip_max, nthreads);
        }
    } else if (p->clip == NNF_MLP_CLIP_GLOBAL_NORM && p->n_runs > 0) {
        double total = 0.0;
        for (size_t r = 0; r < p->n_runs; r++) {
            size_t lo = p->runs[2 * r], n = p->runs[2 * r + 1] - lo;
            total += n ? SFX(nnf_sum_squares)(n, grads + lo, nthreads) : 0.0;
        }
        double coef = p->clip_max / (sqrt(total) + p->clip_eps);
        if (!(coef >= 1.0)) /* a NaN norm poisons every run, as torch does */
            for (size_t r = 0; r < p->n_runs; r++) {
                size_t lo = p->runs[2 * r], n = p->runs[2 * r + 1] - lo;
                if (n)
                    SFX(nnf_scale)(n, grads + lo, coef, nthreads);
            }
    }
}

/* One optimizer update of every trainable run. */
static void SFX(mlp_update)(const nnf_mlp_plan *p, T *params, T *grads, T *s1, T *s2,
                            long long step, double lr, int nthreads)
{
    for (size_t r = 0; r < p->n_runs; r++) {
        size_t lo = p->runs[2 * r], n = p->runs[2 * r + 1] - lo;
        T *a = s1 ? s1 + lo : NULL, *c = s2 ? s2 + lo : NULL;
        switch (p->opt) {
        case NNF_MLP_ADAM:
            SFX(nnf_adam_update)(n, params + lo, grads + lo, a, c, step, lr, p->beta_1,
                                 p->beta_2, p->epsilon, p->weight_decay, p->decoupled, nthreads);
            break;
        case NNF_MLP_RMSPROP:
            SFX(nnf_rmsprop_update)(n, params + lo, grads + lo, a, c, lr, p->rho, p->epsilon,
                                    p->momentum, p->weight_decay, nthreads);
            break;
        default:
            SFX(nnf_sgd_update)(n, params + lo, grads + lo, a, lr, p->momentum, p->nesterov,
                                p->weight_decay, nthreads);
            break;
        }
    }
}

/* A BatchNormalization / LayerNormalization layer's training forward on m rows: the calls of
 * nnfast.layers.normalization (batch statistics and the moving update, or a frozen batch norm
 * in inference mode; layer norm's row statistics kept for the backward pass). */
static void SFX(mlp_norm_forward)(const nnf_mlp_plan *p, const nnf_mlp_layer *Ly, size_t m,
                                  const T *h, const T *params, T *state, T *work, T *y,
                                  int nthreads)
{
    const size_t d = Ly->out;
    const T *gamma = params + Ly->w, *beta = params + Ly->b;
    T *st = work + Ly->stats;
    if (Ly->kind == NNF_MLP_LAYER_NORM) {
        SFX(nnf_layer_norm_forward)(h, m, d, gamma, beta, Ly->epsilon, y, st, st + p->cap,
                                    nthreads);
    } else if (Ly->batch_stats) {
        SFX(nnf_batch_norm_forward)(h, m, d, gamma, beta, Ly->epsilon, y, st, st + d, nthreads);
        SFX(nnf_batch_norm_update_moving)(d, st, st + d, Ly->epsilon, Ly->momentum,
                                          state + Ly->moving_mean, state + Ly->moving_var);
    } else {
        SFX(nnf_batch_norm_inference)(h, m, d, gamma, beta, state + Ly->moving_mean,
                                      state + Ly->moving_var, Ly->epsilon, y, nthreads);
    }
}

/* Its backward: dx (NULL: not needed, the kernels then write over dy) and, for a trainable
 * layer, dgamma/dbeta into grads (a frozen one's go to scratch). A frozen batch norm is
 * inference-mode: dx = dy·gamma/sqrt(moving_var + eps), the scale rounded to T first (the
 * layer's NumPy arithmetic: a division and a square root, correctly rounded in both). */
static void SFX(mlp_norm_backward)(const nnf_mlp_plan *p, const nnf_mlp_layer *Ly, size_t m,
                                   const T *hin, T *dy, T *dx, const T *params, T *grads,
                                   const T *state, T *work, int nthreads)
{
    const size_t d = Ly->out;
    const T *gamma = params + Ly->w;
    T *st = work + Ly->stats;
    if (Ly->kind == NNF_MLP_LAYER_NORM) {
        if (dx == NULL && !Ly->grad)
            return;
        T *dg = Ly->grad ? grads + Ly->w : st + 2 * p->cap;
        T *db = Ly->grad ? grads + Ly->b : st + 2 * p->cap + d;
        SFX(nnf_layer_norm_backward)(dy, hin, m, d, gamma, st, st + p->cap, dx ? dx : dy, dg, db,
                                     nthreads);
    } else if (Ly->batch_stats) {
        T *dg = Ly->grad ? grads + Ly->w : st + 3 * d;
        T *db = Ly->grad ? grads + Ly->b : st + 4 * d;
        SFX(nnf_batch_norm_backward)(dy, hin, m, d, gamma, st, st + d, dx ? dx : dy, dg, db,
                                     nthreads);
    } else if (dx != NULL) {
        T *scale = st + 2 * d;
        const T *mv = state + Ly->moving_var;
        for (size_t j = 0; j < d; j++)
            scale[j] = (T)((double)gamma[j] / sqrt((double)mv[j] + Ly->epsilon));
        for (size_t i = 0; i < m; i++) {
            const T *dr = dy + i * d;
            T *xr = dx + i * d;
            for (size_t j = 0; j < d; j++)
                xr[j] = dr[j] * scale[j];
        }
    }
}

/* One regularized tensor (n elements at offset off): thread t of nt adds its share of
 * 2·l2·w (scale-add) and l1·sign(w) (add-sign) into the gradient, as L1L2.add_gradient does;
 * with want_penalty, returns l1·Σ|w| + l2·Σw² (L1L2.penalty), else 0. */
static double SFX(mlp_regularize_tensor)(const T *params, T *grads, size_t off, size_t n,
                                         double l1, double l2, int t, int nt, int want_penalty,
                                         int nthreads)
{
    size_t a, b;
    nnf_chunk(n, t, nt, &a, &b);
    if (a < b) {
        if (l2 != 0.0)
            SFX(nnf_scale_add)(b - a, grads + off + a, params + off + a, 2.0 * l2, nthreads);
        if (l1 != 0.0)
            SFX(nnf_add_sign)(b - a, grads + off + a, params + off + a, l1, nthreads);
    }
    if (!want_penalty)
        return 0.0;
    double sa = l1 != 0.0 ? SFX(nnf_sum_abs)(n, params + off, nthreads) : 0.0;
    double sq = l2 != 0.0 ? SFX(nnf_sum_squares)(n, params + off, nthreads) : 0.0;
    return mlp_penalty_terms(l1, sa, l2, sq);
}

/* The regularizers of every trainable Dense layer, in layer order (kernel, then bias): their
 * gradients into grads (thread t's share of each tensor) and, on thread 0, the sum of their
 * penalties added to *loss (Sequential._loss_and_backward: `loss + Σ penalty`, the sum started
 * at 0.0). Weights are read before the update. Without a regularized tensor *loss is kept. */
static void SFX(mlp_regularize)(const nnf_mlp_plan *p, const T *params, T *grads, double *loss,
                                int t, int nt, int nthreads)
{
    double penalty = 0.0;
    int any = 0;
    for (size_t i = 0; i < p->n_layers; i++) {
        const nnf_mlp_layer *Ly = p->layers + i;
        if (Ly->kind != NNF_MLP_DENSE || !Ly->grad)
            continue;
        if (Ly->kernel_l1 != 0.0 || Ly->kernel_l2 != 0.0) {
            any = 1;
            penalty += SFX(mlp_regularize_tensor)(params, grads, Ly->w, Ly->in * Ly->out,
                                                  Ly->kernel_l1, Ly->kernel_l2, t, nt, t == 0,
                                                  nthreads);
        }
        if (Ly->b != NNF_MLP_NONE && (Ly->bias_l1 != 0.0 || Ly->bias_l2 != 0.0)) {
            any = 1;
            penalty += SFX(mlp_regularize_tensor)(params, grads, Ly->b, Ly->out, Ly->bias_l1,
                                                  Ly->bias_l2, t, nt, t == 0, nthreads);
        }
    }
    if (any && t == 0)
        *loss = *loss + penalty;
}

/* [c0, c1): thread t's share of d columns, in blocks of 16 (one cache line of floats). */
NNF_INLINE void SFX(mlp_cols)(size_t d, int t, int nt, size_t *c0, size_t *c1)
{
    size_t blocks = (d + 15) / 16, per = (blocks + (size_t)nt - 1) / (size_t)nt;
    size_t a = per * (size_t)t * 16, b = a + per * 16;
    *c0 = a < d ? a : d;
    *c1 = b < d ? b : d;
}

/* nnf_mlp_train on a team of nthreads threads in ONE parallel region for the whole chunk: BLAS
 * runs single-threaded inside it (the caller has set it so), each thread computing a block of
 * columns of every GEMM (its share of every weight matrix, packed once per call by its own
 * BLAS call); element-wise work split by rows or by the same columns; the optimizer by ranges of
 * each trainable run; barriers between dependent stages. One thread pool, never woken per kernel.
 * A softmax cross-entropy and the metric run by rows (the loss's 16-row block sums added on
 * thread 0 in block order, so the loss has the whole-batch call's bits); other losses and
 * dropout masks run on thread 0 (dropout's counter-based bits are indexed from the start of
 * the array). A Dense layer of at most 16 units (one column block: the output layer of a
 * classifier) is split by rows instead of columns, so that thread 0 does not run it alone.
 * Every result element is computed by the same operations as in the serial path, but for
 * what a BLAS rounds differently on a block of rows than on the whole (nnfast's own GEMM does
 * not). */
static int SFX(mlp_train_team)(const nnf_mlp_plan *p, GEMM_FN gemm, T *params, T *grads,
                               T *state, T *s1, T *s2, T *work, double *dscratch, intptr_t *lbuf, const T *X,
                               const T *Tg, const intptr_t *labels, const T *W,
                               const int64_t *order, size_t n_rows, size_t batch,
                               size_t first_batch, size_t n_steps, long long iteration,
                               const double *lrs, const uint64_t *seeds, double *losses,
                               double *correct, T *outs, int nthreads)
{
    const size_t L = p->n_layers, din = p->in_dim, k = p->out_dim;
    int status = 0;
    nnf_spin_barrier team_barrier = {0, 0}; /* spinning: OpenMP's sleeps under PASSIVE */
    /* a softmax cross-entropy's block sums and the threads' correct counts (shared, in
     * dscratch after the threads' bias-gradient scratch) */
    double *blk = NULL, *hits = NULL;
    if (p->loss == NNF_MLP_SPARSE_XENT || p->loss == NNF_MLP_CATEGORICAL_XENT) {
        blk = dscratch + 2 * p->widest * (size_t)nthreads;
        hits = blk + (p->cap + NNF_LOSS_ROW_BLOCK - 1) / NNF_LOSS_ROW_BLOCK;
    }
    NNF_PRAGMA(omp parallel num_threads(nthreads))
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        double *scratch = dscratch + (size_t)t * 2 * p->widest;
        const uint64_t *seed = seeds;
        for (size_t s = 0; s < n_steps; s++) {
            size_t lo = (first_batch + s) * batch;
            size_t m = n_rows - lo < batch ? n_rows - lo : batch;
            size_t r0, r1;
            nnf_chunk(m, t, nt, &r0, &r1);
            const T *xb, *tb = NULL, *wb = NULL;
            const intptr_t *lb = NULL;
            if (order == NULL) {
                xb = X + lo * din;
                tb = Tg ? Tg + lo * k : NULL;
                lb = labels ? labels + lo : NULL;
                wb = W ? W + lo : NULL;
            } else {
                const int64_t *idx = order + lo;
                T *xg = work + p->xbuf;
                if (r0 < r1)
                    SFX(nnf_gather_rows)(X, (ptrdiff_t)din, 1, din, idx + r0, r1 - r0,
                                         xg + r0 * din, 1);
                xb = xg;
                if (Tg) {
                    T *tg = work + p->tbuf;
                    if (r0 < r1)
                        SFX(nnf_gather_rows)(Tg, (ptrdiff_t)k, 1, k, idx + r0, r1 - r0,
                                             tg + r0 * k, 1);
                    tb = tg;
                }
                if (labels) {
                    for (size_t i = r0; i < r1; i++)
                        lbuf[i] = labels[idx[i]];
                    lb = lbuf;
                }
                if (W) {
                    T *wg = work + p->wbuf;
                    for (size_t i = r0; i < r1; i++)
                        wg[i] = W[idx[i]];
                    wb = wg;
                }
                nnf_barrier_wait(&team_barrier, nt);
            }
            /* -- forward -- */
            const T *h = xb;
            for (size_t i = 0; i < L; i++) {
                const nnf_mlp_layer *Ly = p->layers + i;
                const size_t d = Ly->out;
                T *y = work + Ly->y;
                if (Ly->kind == NNF_MLP_DENSE) {
                    const T *Wt = params + Ly->w;
                    const T *b = Ly->b == NNF_MLP_NONE ? NULL : params + Ly->b;
                    int code = Ly->act;
                    int via_z = code != NNF_ACT_LINEAR && Ly->keeps_z;
                    T *target = via_z ? work + Ly->z : y;
                    /* columns [c0, c1) of rows [q0, q1): a layer of one 16-column block (the
                     * output layer of a classifier) is split by rows instead */
                    size_t c0 = 0, c1 = d, q0 = r0, q1 = r1;
                    if (d > 16) {
                        SFX(mlp_cols)(d, t, nt, &c0, &c1);
                        q0 = 0;
                        q1 = m;
                    }
                    if (c0 < c1 && q0 < q1) {
                        SFX(mlp_gemm_ld)(gemm, 0, 0, q1 - q0, c1 - c0, Ly->in, h + q0 * Ly->in,
                                         Ly->in, Wt + c0, d, target + q0 * d + c0, d);
                        for (size_t r = q0; r < q1; r++) {
                            T *tr = target + r * d + c0;
                            SFX(nnf_bias_act)(via_z ? NNF_ACT_LINEAR : code, 1, c1 - c0, tr,
                                              b ? b + c0 : NULL, 1);
                            if (via_z && code != NNF_ACT_SOFTMAX)
                                SFX(nnf_act_forward)(code, c1 - c0, tr, y + r * d + c0, 1);
                        }
                    }
                    if (via_z && code == NNF_ACT_SOFTMAX) {
                        nnf_barrier_wait(&team_barrier, nt);
                        if (r0 < r1)
                            SFX(nnf_softmax)(r1 - r0, d, target + r0 * d, y + r0 * d, 1);
                    }
                } else if (Ly->kind == NNF_MLP_ACTIVATION) {
                    if (r0 < r1)
                        SFX(mlp_act_forward)(Ly->act, r1 - r0, d, h + r0 * d, y + r0 * d, 1);
                } else if (Ly->kind >= NNF_MLP_BATCH_NORM) {
                    if (t == 0) /* column statistics: one thread (their bits do not depend on it) */
                        SFX(mlp_norm_forward)(p, Ly, m, h, params, state, work, y, 1);
                } else if (Ly->rate > 0.0) {
                    if (t == 0)
                        SFX(nnf_dropout_forward)(h, m * d, Ly->rate, *seed, y, work + Ly->mask, 1);
                    seed++;
                } else if (r0 < r1) {
                    memcpy(y + r0 * d, h + r0 * d, (r1 - r0) * d * sizeof(T));
                }
                nnf_barrier_wait(&team_barrier, nt);
                h = y;
            }
            /* -- loss and metric: a softmax cross-entropy by rows (its 16-row block sums
             * added on thread 0 in block order, the bits of the whole-batch call), any other
             * loss on thread 0 -- */
            const nnf_mlp_layer *last = p->layers + (L - 1);
            T *out = work + last->y;
            if (blk != NULL) {
                if (r0 < r1) {
                    const T scale = (T)(1.0 / (double)m);
                    if (p->loss == NNF_MLP_SPARSE_XENT)
                        SFX(nnf_softmax_xent_rows)(k, out, lb, wb, 0, scale, work + last->dy,
                                                   blk, r0, r1);
                    else
                        SFX(nnf_categorical_xent_rows)(k, out, tb, wb, (T)p->loss_param, scale,
                                                       work + last->dy, blk, r0, r1);
                }
                if (correct != NULL)
                    hits[t] = r0 < r1 ? SFX(mlp_correct)(p->metric, r1 - r0, k, out + r0 * k,
                                                         tb ? tb + r0 * k : NULL,
                                                         lb ? lb + r0 : NULL)
                                      : 0.0;
            } else if (t == 0) {
                if (correct != NULL)
                    correct[s] = SFX(mlp_correct)(p->metric, m, k, out, tb, lb);
                if (SFX(mlp_loss)(p, m, out, tb, lb, wb, work + last->dy, losses + s, 1) != 0)
                    status = -1;
            }
            nnf_barrier_wait(&team_barrier, nt);
            if (outs != NULL && t == 0) /* the backward pass writes no last-layer output */
                memcpy(outs + s * batch * k, out, m * k * sizeof(T));
            if (blk != NULL && t == 0) { /* read before any thread passes the next barrier */
                const size_t blocks = (m + NNF_LOSS_ROW_BLOCK - 1) / NNF_LOSS_ROW_BLOCK;
                losses[s] = nnf_loss_sum_blocks(blk, blocks) / (double)m;
                if (correct != NULL) {
                    double total = 0.0;
                    for (int u = 0; u < nt; u++)
                        total += hits[u];
                    correct[s] = total;
                }
            }
            if (status != 0)
                break;
            /* -- backward -- */
            for (size_t i = L; i-- > 0;) {
                const nnf_mlp_layer *Ly = p->layers + i;
                if (!Ly->backward)
                    break;
                const size_t d = Ly->out;
                const T *hin = i == 0 ? xb : work + p->layers[i - 1].y;
                T *y = work + Ly->y, *dy = work + Ly->dy;
                T *dx = Ly->dx ? work + p->layers[i - 1].dy : NULL;
                if (Ly->kind == NNF_MLP_DENSE) {
                    /* As in the forward pass, a layer of one 16-column block is split by
                     * rows: the derivative by rows of dy, then (after a barrier) the kernel
                     * gradient by rows of dW; its bias gradient on thread 0. */
                    const int narrow = d <= 16;
                    size_t c0 = 0, c1 = d;
                    if (!narrow)
                        SFX(mlp_cols)(d, t, nt, &c0, &c1);
                    const T *z = Ly->z == NNF_MLP_NONE ? NULL : work + Ly->z;
                    if (Ly->act == NNF_ACT_SOFTMAX) {
                        if (r0 < r1)
                            SFX(nnf_softmax_backward)(r1 - r0, d, y + r0 * d, dy + r0 * d,
                                                      dy + r0 * d, 1);
                        nnf_barrier_wait(&team_barrier, nt);
                    } else if (Ly->act != NNF_ACT_LINEAR && narrow) {
                        for (size_t r = r0; r < r1; r++)
                            SFX(mlp_act_backward)(Ly->act, 1, d, z ? z + r * d : NULL, y + r * d,
                                                  dy + r * d, dy + r * d, 1);
                        nnf_barrier_wait(&team_barrier, nt);
                    } else if (Ly->act != NNF_ACT_LINEAR && c0 < c1) {
                        for (size_t r = 0; r < m; r++)
                            SFX(mlp_act_backward)(Ly->act, 1, c1 - c0, z ? z + r * d + c0 : NULL,
                                                  y + r * d + c0, dy + r * d + c0,
                                                  dy + r * d + c0, 1);
                    }
                    if (Ly->grad && narrow) {
                        size_t g0, g1;
                        SFX(mlp_cols)(Ly->in, t, nt, &g0, &g1);
                        if (g0 < g1)
                            SFX(mlp_gemm_ld)(gemm, 1, 0, g1 - g0, d, m, hin + g0, Ly->in, dy, d,
                                             grads + Ly->w + g0 * d, d);
                        if (t == 0 && Ly->b != NNF_MLP_NONE)
                            SFX(mlp_bias_grad)(m, d, d, dy, grads + Ly->b, scratch);
                    } else if (Ly->grad && c0 < c1) {
                        SFX(mlp_gemm_ld)(gemm, 1, 0, Ly->in, c1 - c0, m, hin, Ly->in, dy + c0, d,
                                         grads + Ly->w + c0, d);
                        if (Ly->b != NNF_MLP_NONE)
                            SFX(mlp_bias_grad)(m, c1 - c0, d, dy + c0, grads + Ly->b + c0,
                                               scratch);
                    }
                    if (dx) {
                        size_t i0, i1;
                        SFX(mlp_cols)(Ly->in, t, nt, &i0, &i1);
                        nnf_barrier_wait(&team_barrier, nt);
                        if (i0 < i1)
                            SFX(mlp_gemm_ld)(gemm, 0, 1, m, i1 - i0, d, dy, d,
                                             params + Ly->w + i0 * d, d, dx + i0, Ly->in);
                    }
                } else if (Ly->kind >= NNF_MLP_BATCH_NORM) {
                    if (t == 0)
                        SFX(mlp_norm_backward)(p, Ly, m, hin, dy, dx, params, grads, state, work,
                                               1);
                } else if (dx == NULL) {
                    continue;
                } else if (r0 < r1) {
                    const size_t o = r0 * d, cnt = (r1 - r0) * d;
                    if (Ly->kind == NNF_MLP_ACTIVATION)
                        SFX(mlp_act_backward)(Ly->act, r1 - r0, d, hin + o, y + o, dy + o,
                                              dx + o, 1);
                    else if (Ly->rate > 0.0)
                        SFX(nnf_dropout_backward)(dy + o, work + Ly->mask + o, cnt, dx + o, 1);
                    else
                        memcpy(dx + o, dy + o, cnt * sizeof(T));
                }
                nnf_barrier_wait(&team_barrier, nt);
            }
            /* -- regularizers: gradients by ranges, penalties on thread 0 -- */
            SFX(mlp_regularize)(p, params, grads, losses + s, t, nt, 1);
            nnf_barrier_wait(&team_barrier, nt);
            /* -- the update: each thread a range of every run -- */
            for (size_t r = 0; r < p->n_runs; r++) {
                size_t a, b, rlo = p->runs[2 * r], n = p->runs[2 * r + 1] - rlo;
                nnf_chunk(n, t, nt, &a, &b);
                if (a >= b)
                    continue;
                nnf_mlp_plan part = *p;
                size_t span[2] = {rlo + a, rlo + b};
                part.n_runs = 1;
                part.runs = span;
                SFX(mlp_update)(&part, params, grads, s1, s2, iteration + (long long)s + 1,
                                lrs[s], 1);
            }
            nnf_barrier_wait(&team_barrier, nt);
        }
    }
    return status;
}

int SFX(nnf_mlp_train)(const nnf_mlp_plan *p, GEMM_FN gemm, T *params, T *grads, T *state,
                       T *s1, T *s2,
                       T *work, double *dscratch, intptr_t *lbuf, const T *X, const T *Tg,
                       const intptr_t *labels, const T *W, const int64_t *order, size_t n_rows,
                       size_t batch, size_t first_batch, size_t n_steps, long long iteration,
                       const double *lrs, const uint64_t *seeds, double *losses, double *correct,
                       T *outs, int nthreads)
{
    const size_t L = p->n_layers, din = p->in_dim, k = p->out_dim;
    const uint64_t *seed = seeds;
    if (NNF_OPENMP && nthreads > 1 && p->clip == NNF_MLP_CLIP_NONE)
        return SFX(mlp_train_team)(p, gemm, params, grads, state, s1, s2, work, dscratch, lbuf, X, Tg,
                                   labels, W, order, n_rows, batch, first_batch, n_steps,
                                   iteration, lrs, seeds, losses, correct, outs, nthreads);
    for (size_t s = 0; s < n_steps; s++) {
        size_t lo = (first_batch + s) * batch;
        size_t m = n_rows - lo < batch ? n_rows - lo : batch;
        const T *xb, *tb = NULL, *wb = NULL;
        const intptr_t *lb = NULL;
        /* -- the batch: rows of X (and targets, weights) in order -- */
        if (order == NULL) {
            xb = X + lo * din;
            tb = Tg ? Tg + lo * k : NULL;
            lb = labels ? labels + lo : NULL;
            wb = W ? W + lo : NULL;
        } else {
            const int64_t *idx = order + lo;
            T *xg = work + p->xbuf;
            SFX(nnf_gather_rows)(X, (ptrdiff_t)din, 1, din, idx, m, xg, nthreads);
            xb = xg;
            if (Tg) {
                T *tg = work + p->tbuf;
                SFX(nnf_gather_rows)(Tg, (ptrdiff_t)k, 1, k, idx, m, tg, 1);
                tb = tg;
            }
            if (labels) {
                for (size_t i = 0; i < m; i++)
                    lbuf[i] = labels[idx[i]];
                lb = lbuf;
            }
            if (W) {
                T *wg = work + p->wbuf;
                for (size_t i = 0; i < m; i++)
                    wg[i] = W[idx[i]];
                wb = wg;
            }
        }
        /* -- forward -- */
        const T *h = xb;
        for (size_t i = 0; i < L; i++) {
            const nnf_mlp_layer *Ly = p->layers + i;
            T *y = work + Ly->y;
            if (Ly->kind == NNF_MLP_DENSE) {
                T *z = Ly->z == NNF_MLP_NONE ? NULL : work + Ly->z;
                SFX(mlp_dense_forward)(gemm, Ly, Ly->act, Ly->keeps_z, m, h, params, z, y, 0,
                                       nthreads);
            } else if (Ly->kind == NNF_MLP_ACTIVATION) {
                SFX(mlp_act_forward)(Ly->act, m, Ly->in, h, y, nthreads);
            } else if (Ly->kind >= NNF_MLP_BATCH_NORM) {
                SFX(mlp_norm_forward)(p, Ly, m, h, params, state, work, y, nthreads);
            } else if (Ly->rate > 0.0) {
                SFX(nnf_dropout_forward)(h, m * Ly->in, Ly->rate, *seed++, y, work + Ly->mask,
                                         nthreads);
            } else {
                memcpy(y, h, m * Ly->in * sizeof(T));
            }
            h = y;
        }
        /* -- loss (and the metric, from the outputs before the gradient overwrites nothing) -- */
        const nnf_mlp_layer *last = p->layers + (L - 1);
        T *out = work + last->y;
        if (correct != NULL)
            correct[s] = SFX(mlp_correct)(p->metric, m, k, out, tb, lb);
        if (outs != NULL)
            memcpy(outs + s * batch * k, out, m * k * sizeof(T));
        if (SFX(mlp_loss)(p, m, out, tb, lb, wb, work + last->dy, losses + s, nthreads) != 0)
            return -1;
        /* -- backward -- */
        for (size_t i = L; i-- > 0;) {
            const nnf_mlp_layer *Ly = p->layers + i;
            if (!Ly->backward)
                break;
            const T *hin = i == 0 ? xb : work + p->layers[i - 1].y;
            T *y = work + Ly->y, *dy = work + Ly->dy;
            T *dx = Ly->dx ? work + p->layers[i - 1].dy : NULL;
            if (Ly->kind == NNF_MLP_DENSE) {
                if (Ly->act != NNF_ACT_LINEAR) {
                    const T *z = Ly->z == NNF_MLP_NONE ? NULL : work + Ly->z;
                    SFX(mlp_act_backward)(Ly->act, m, Ly->out, z, y, dy, dy, nthreads);
                }
                if (Ly->grad) {
                    SFX(mlp_gemm)(gemm, 1, 0, Ly->in, Ly->out, m, hin, Ly->in, dy, Ly->out,
                                  grads + Ly->w);
                    if (Ly->b != NNF_MLP_NONE)
                        SFX(mlp_bias_grad)(m, Ly->out, Ly->out, dy, grads + Ly->b, dscratch);
                }
                if (dx)
                    SFX(mlp_gemm)(gemm, 0, 1, m, Ly->in, Ly->out, dy, Ly->out, params + Ly->w,
                                  Ly->out, dx);
            } else if (Ly->kind >= NNF_MLP_BATCH_NORM) {
                SFX(mlp_norm_backward)(p, Ly, m, hin, dy, dx, params, grads, state, work,
                                       nthreads);
            } else if (dx == NULL) {
                continue;
            } else if (Ly->kind == NNF_MLP_ACTIVATION) {
                SFX(mlp_act_backward)(Ly->act, m, Ly->in, hin, y, dy, dx, nthreads);
            } else if (Ly->rate > 0.0) {
                SFX(nnf_dropout_backward)(dy, work + Ly->mask, m * Ly->in, dx, nthreads);
            } else {
                memcpy(dx, dy, m * Ly->in * sizeof(T));
            }
        }
        /* -- regularizers (gradients, and penalties into the loss) -- */
        SFX(mlp_regularize)(p, params, grads, losses + s, 0, 1, nthreads);
        /* -- clipping, then the update -- */
        SFX(mlp_clip)(p, grads, nthreads);
        SFX(mlp_update)(p, params, grads, s1, s2, iteration + (long long)s + 1, lrs[s], nthreads);
    }
    return 0;
}

void SFX(nnf_mlp_predict)(const nnf_mlp_plan *p, GEMM_FN gemm, const T *params, const T *state,
                          T *buf_a, T *buf_b, T *buf_z, T *buf_s, size_t rows, const T *X,
                          size_t n, T *out, int logits, int nthreads)
{
    const size_t L = p->n_layers, din = p->in_dim, k = p->out_dim;
    /* element-wise work on the calling thread: BLAS owns the cores (see _plan.py) */
    (void)nthreads;
    for (size_t lo = 0; lo < n; lo += rows) {
        size_t m = n - lo < rows ? n - lo : rows;
        const T *h = X + lo * din;
        for (size_t i = 0; i < L; i++) {
            const nnf_mlp_layer *Ly = p->layers + i;
            int code = logits && i + 1 == L ? NNF_ACT_LINEAR : Ly->act_infer;
            T *dst = i + 1 == L ? out + lo * k : (h == buf_a ? buf_b : buf_a);
            if (Ly->kind == NNF_MLP_DENSE) {
                int keeps_z = code == NNF_ACT_SOFTMAX || !nnf_act_backward_uses_output(code);
                SFX(mlp_dense_forward)(gemm, Ly, code, keeps_z, m, h, params, buf_z, dst,
                                       m <= SFX(mlp_rowwise_max)(), 1);
            } else if (Ly->kind == NNF_MLP_ACTIVATION) {
                SFX(mlp_act_forward)(code, m, Ly->in, h, dst, 1);
            } else if (Ly->kind == NNF_MLP_BATCH_NORM) {
                SFX(nnf_batch_norm_inference)(h, m, Ly->in, params + Ly->w, params + Ly->b,
                                              state + Ly->moving_mean, state + Ly->moving_var,
                                              Ly->epsilon, dst, 1);
            } else if (Ly->kind == NNF_MLP_LAYER_NORM) {
                SFX(nnf_layer_norm_forward)(h, m, Ly->in, params + Ly->w, params + Ly->b,
                                            Ly->epsilon, dst, buf_s, buf_s + rows, 1);
            } else if (i + 1 == L) {
                memcpy(dst, h, m * Ly->in * sizeof(T));
            } else {
                dst = (T *)h; /* inference dropout: the identity, no copy */
            }
            h = dst;
        }
    }
}

/* Evaluation of m rows: out := the forward pass in inference mode (logits != 0: without the
 * last layer's activation, as the fused loss reads it), then the loss kernel a training step
 * runs (its gradient into g, discarded) and, when correct != NULL, the correct count. */
int SFX(nnf_mlp_evaluate)(const nnf_mlp_plan *p, GEMM_FN gemm, const T *params, const T *state,
                          T *buf_a, T *buf_b, T *buf_z, T *buf_s, size_t rows, const T *X,
                          const T *Tg, const intptr_t *labels, const T *W, size_t m, T *out,
                          int logits, T *g, double *loss, double *correct)
{
    SFX(nnf_mlp_predict)(p, gemm, params, state, buf_a, buf_b, buf_z, buf_s, rows, X, m, out,
                         logits, 1);
    if (correct != NULL)
        *correct = SFX(mlp_correct)(p->metric, m, p->out_dim, out, Tg, labels);
    return SFX(mlp_loss)(p, m, out, Tg, labels, W, g, loss, 1);
}

#endif /* NNF_MLP_TEMPLATE */
