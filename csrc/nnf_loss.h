/* nnf_loss.h -- fused losses: each call returns the summed loss and writes dL/d(input).
 *
 * Shapes: an (n, c) or (n, k) input is row-major and C-contiguous; `w` (n sample weights) may
 * be NULL (all ones); `labels` are class indices already checked to lie in [0, c).
 * `loss_sum` receives sum_i w_i * l_i accumulated in double (the caller divides by its count
 * N: n for row losses, n*k for elementwise ones); the gradient is written already scaled by
 * `scale` (1/N) and w_i.  The gradient array may be the input array itself (in place), but
 * no other argument may overlap it.
 *
 * The loss sum does not depend on `nthreads`: partial sums are taken over fixed blocks (16 rows,
 * or 1024 elements) and added in block order, so 1 and N threads give the same bits.
 * Every function returns 0, or -1 when its scratch for the block sums could not be allocated
 * (only for batches of more than 8192 rows or 8M elements).
 *
 * Suffix _f32 works in float with nnf_math.h's vectorisable exp/log; _f64 calls libm.
 */
#ifndef NNF_LOSS_H
#define NNF_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "nnf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- row losses over logits z (n, c) with a fused, max-shifted softmax ------------------ */

/* Sparse softmax cross-entropy, t = (1-eps)·onehot(label) + eps/c:
 * l_i = -sum_j t_ij·log_softmax(z_i)_j;  g_ij = scale·w_i·(softmax(z_i)_j - t_ij). */
int nnf_softmax_xent_f32(size_t n, size_t c, const float *z, const intptr_t *labels,
                         const float *w, float eps, float scale, float *g,
                         double *loss_sum, int nthreads);
int nnf_softmax_xent_f64(size_t n, size_t c, const double *z, const intptr_t *labels,
                         const double *w, double eps, double scale, double *g,
                         double *loss_sum, int nthreads);

/* Dense categorical cross-entropy, t' = (1-eps)·t + eps/c, T_i = sum_j t'_ij:
 * l_i = -sum_j t'_ij·log_softmax(z_i)_j;  g_ij = scale·w_i·(softmax(z_i)_j·T_i - t'_ij). */
int nnf_categorical_xent_f32(size_t n, size_t c, const float *z, const float *t,
                             const float *w, float eps, float scale, float *g,
                             double *loss_sum, int nthreads);
int nnf_categorical_xent_f64(size_t n, size_t c, const double *z, const double *t,
                             const double *w, double eps, double scale, double *g,
                             double *loss_sum, int nthreads);

/* The two above on rows [lo, hi) alone (lo a multiple of NNF_LOSS_ROW_BLOCK), for a caller that
 * already runs a thread team: writes g's rows and blk[b] = the weighted loss sum of block b
 * (rows 16·b ... 16·b + 15) for the blocks in range. nnf_loss_sum_blocks(blk, ceil(n / 16))
 * then gives the loss sum with the bits of the whole-batch call, whatever the row split. */
#define NNF_LOSS_ROW_BLOCK 16
void nnf_softmax_xent_rows_f32(size_t c, const float *z, const intptr_t *labels, const float *w,
                               float eps, float scale, float *g, double *blk, size_t lo,
                               size_t hi);
void nnf_softmax_xent_rows_f64(size_t c, const double *z, const intptr_t *labels,
                               const double *w, double eps, double scale, double *g,
                               double *blk, size_t lo, size_t hi);
void nnf_categorical_xent_rows_f32(size_t c, const float *z, const float *t, const float *w,
                                   float eps, float scale, float *g, double *blk, size_t lo,
                                   size_t hi);
void nnf_categorical_xent_rows_f64(size_t c, const double *z, const double *t, const double *w,
                                   double eps, double scale, double *g, double *blk, size_t lo,
                                   size_t hi);
/* Σ of `nb` block sums in the order every loss kernel adds them. */
double nnf_loss_sum_blocks(const double *blk, size_t nb);

/* --- losses of probabilities p (n, c), clipped to [clip, 1-clip] as Keras does ------------ */

/* Sparse cross-entropy of probabilities: l_i = -log(pc_i,label);
 * g_ij = -scale·w_i/p_ij at j = label_i when p_ij is not clipped, else 0. */
int nnf_probs_xent_sparse_f32(size_t n, size_t c, const float *p, const intptr_t *labels,
                              const float *w, float clip, float scale, float *g,
                              double *loss_sum, int nthreads);
int nnf_probs_xent_sparse_f64(size_t n, size_t c, const double *p, const intptr_t *labels,
                              const double *w, double clip, double scale, double *g,
                              double *loss_sum, int nthreads);

/* --- elementwise losses over (n, k): element (i, j) has weight w_i ------------------------ */

/* Dense cross-entropy of probabilities: l = -t·log(pc); g = -scale·w·t/p (0 where clipped). */
int nnf_probs_xent_dense_f32(size_t n, size_t k, const float *p, const float *t,
                             const float *w, float clip, float scale, float *g,
                             double *loss_sum, int nthreads);
int nnf_probs_xent_dense_f64(size_t n, size_t k, const double *p, const double *t,
                             const double *w, double clip, double scale, double *g,
                             double *loss_sum, int nthreads);

/* Binary cross-entropy of probabilities, t' = t·(1-eps) + eps/2, pc = clip(p), qc = clip(1-p):
 * l = -(t'·log(pc) + (1-t')·log(qc));  g = scale·w·(p - t')/(p·(1-p)) (0 where clipped). */
int nnf_binary_xent_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                        float eps, float clip, float scale, float *g, double *loss_sum,
                        int nthreads);
int nnf_binary_xent_f64(size_t n, size_t k, const double *p, const double *t, const double *w,
                        double eps, double clip, double scale, double *g, double *loss_sum,
                        int nthreads);

/* Sigmoid (binary) cross-entropy of logits x, t' = t·(1-eps) + eps/2:
 * l = max(x, 0) - x·t' + log1p(exp(-|x|));  g = scale·w·(sigmoid(x) - t'). */
int nnf_sigmoid_xent_f32(size_t n, size_t k, const float *x, const float *t, const float *w,
                         float eps, float scale, float *g, double *loss_sum, int nthreads);
int nnf_sigmoid_xent_f64(size_t n, size_t k, const double *x, const double *t, const double *w,
                         double eps, double scale, double *g, double *loss_sum, int nthreads);

/* Mean squared error, r = p - t: l = r²;  g = 2·scale·w·r. */
int nnf_mse_loss_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                     float scale, float *g, double *loss_sum, int nthreads);
int nnf_mse_loss_f64(size_t n, size_t k, const double *p, const double *t, const double *w,
                     double scale, double *g, double *loss_sum, int nthreads);

/* Mean absolute error, r = p - t: l = |r|;  g = scale·w·sign(r) (sign(0) = 0). */
int nnf_mae_loss_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                     float scale, float *g, double *loss_sum, int nthreads);
int nnf_mae_loss_f64(size_t n, size_t k, const double *p, const double *t, const double *w,
                     double scale, double *g, double *loss_sum, int nthreads);

/* Huber, r = p - t: l = r²/2 if |r| <= delta else delta·(|r| - delta/2);
 * g = scale·w·clip(r, -delta, delta). */
int nnf_huber_loss_f32(size_t n, size_t k, const float *p, const float *t, const float *w,
                       float delta, float scale, float *g, double *loss_sum, int nthreads);
int nnf_huber_loss_f64(size_t n, size_t k, const double *p, const double *t, const double *w,
                       double delta, double scale, double *g, double *loss_sum, int nthreads);

#ifdef __cplusplus
}
#endif

#endif /* NNF_LOSS_H */
