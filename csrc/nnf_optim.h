/* nnf_optim.h -- in-place optimizer updates and gradient clipping, one pass over memory each.
 *
 * The update rules are those of torch.optim's for-loop ("single tensor") implementations; the
 * fused shape follows ATen's FusedAdamKernel: every scalar (bias corrections, step sizes) is
 * computed once per call in double, then the element loop runs in the array's precision.
 *
 * Every array is a flat run of `n` elements (the caller flattens C-contiguous arrays). Arrays
 * written in place must not overlap each other or the read-only inputs (they are `restrict`).
 * Each function exists as `_f32` (float) and `_f64` (double). `nthreads` is the most threads a
 * call may use; small arrays stay on the calling thread.
 */
#ifndef NNF_OPTIM_H
#define NNF_OPTIM_H

#include <stddef.h>

#include "nnf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SGD, torch.optim.SGD (dampening 0):
 *   g' = g + wd·p;  b = μ·b + g' (μ > 0);  d = nesterov ? g' + μ·b : (μ > 0 ? b : g');  p -= lr·d.
 * `buf` (the momentum buffer, zeros before the first step) is unused and may be NULL when
 * momentum == 0. The wd·p term is skipped when weight_decay == 0. */
void nnf_sgd_update_f32(size_t n, float *NNF_RESTRICT param, const float *NNF_RESTRICT grad,
                        float *NNF_RESTRICT buf, double learning_rate, double momentum,
                        int nesterov, double weight_decay, int nthreads);
void nnf_sgd_update_f64(size_t n, double *NNF_RESTRICT param, const double *NNF_RESTRICT grad,
                        double *NNF_RESTRICT buf, double learning_rate, double momentum,
                        int nesterov, double weight_decay, int nthreads);

/* RMSprop, torch.optim.RMSprop (alpha = rho, not centered):
 *   g' = g + wd·p;  v = ρ·v + (1−ρ)·g'²;  μ > 0: b = μ·b + g'/(√v + ε), p -= lr·b;
 *   μ = 0: p -= lr·g'/(√v + ε).   `buf` may be NULL when momentum == 0. */
void nnf_rmsprop_update_f32(size_t n, float *NNF_RESTRICT param, const float *NNF_RESTRICT grad,
                            float *NNF_RESTRICT square_avg, float *NNF_RESTRICT buf,
                            double learning_rate, double rho, double epsilon, double momentum,
                            double weight_decay, int nthreads);
void nnf_rmsprop_update_f64(size_t n, double *NNF_RESTRICT param, const double *NNF_RESTRICT grad,
                            double *NNF_RESTRICT square_avg, double *NNF_RESTRICT buf,
                            double learning_rate, double rho, double epsilon, double momentum,
                            double weight_decay, int nthreads);

/* Adam / AdamW, torch.optim.Adam and AdamW (amsgrad off), `step` >= 1 counting this one:
 *   coupled: g' = g + wd·p;  decoupled: p *= 1 − lr·wd, g' = g;
 *   m = lerp(m, g', 1−β1);  v = β2·v + (1−β2)·g'²;
 *   p -= lr/(1−β1^step) · m / (√v / √(1−β2^step) + ε). */
void nnf_adam_update_f32(size_t n, float *NNF_RESTRICT param, const float *NNF_RESTRICT grad,
                         float *NNF_RESTRICT m, float *NNF_RESTRICT v, long long step,
                         double learning_rate, double beta_1, double beta_2, double epsilon,
                         double weight_decay, int decoupled, int nthreads);
void nnf_adam_update_f64(size_t n, double *NNF_RESTRICT param, const double *NNF_RESTRICT grad,
                         double *NNF_RESTRICT m, double *NNF_RESTRICT v, long long step,
                         double learning_rate, double beta_1, double beta_2, double epsilon,
                         double weight_decay, int decoupled, int nthreads);

/* Σ x_i² accumulated in double. The sum order depends on n only (at most NNF_NORM_BLOCKS
 * fixed blocks, fixed lanes), never on nthreads: the same input gives the same bits on any
 * thread count. */
#define NNF_NORM_BLOCKS 256
double nnf_sum_squares_f32(size_t n, const float *NNF_RESTRICT x, int nthreads);
double nnf_sum_squares_f64(size_t n, const double *NNF_RESTRICT x, int nthreads);

/* Σ |x_i| accumulated in double, in nnf_sum_squares's block and lane order (depends on n only,
 * never on nthreads). */
double nnf_sum_abs_f32(size_t n, const float *NNF_RESTRICT x, int nthreads);
double nnf_sum_abs_f64(size_t n, const double *NNF_RESTRICT x, int nthreads);

/* sums[k] := Σ_i xs[k][i]² for k < count, arrays of ns[k] elements, in one thread team over
 * the blocks of all arrays (many small arrays still go parallel). Each sums[k] has the bits
 * nnf_sum_squares gives for that array alone. `scratch` holds count·NNF_NORM_BLOCKS doubles. */
void nnf_sum_squares_many_f32(size_t count, const float *const *xs, const size_t *ns,
                              double *sums, double *scratch, int nthreads);
void nnf_sum_squares_many_f64(size_t count, const double *const *xs, const size_t *ns,
                              double *sums, double *scratch, int nthreads);

/* x := alpha·x. */
void nnf_scale_f32(size_t n, float *NNF_RESTRICT x, double alpha, int nthreads);
void nnf_scale_f64(size_t n, double *NNF_RESTRICT x, double alpha, int nthreads);

/* y := y + alpha·x. */
void nnf_scale_add_f32(size_t n, float *NNF_RESTRICT y, const float *NNF_RESTRICT x,
                       double alpha, int nthreads);
void nnf_scale_add_f64(size_t n, double *NNF_RESTRICT y, const double *NNF_RESTRICT x,
                       double alpha, int nthreads);

/* y := y + alpha·sign(x) (sign 0 at ±0, NaN for NaN; alpha rounded to the element type first):
 * the L1 regularizer's gradient term. */
void nnf_add_sign_f32(size_t n, float *NNF_RESTRICT y, const float *NNF_RESTRICT x,
                      double alpha, int nthreads);
void nnf_add_sign_f64(size_t n, double *NNF_RESTRICT y, const double *NNF_RESTRICT x,
                      double alpha, int nthreads);

/* x := min(max(x, −c), c) for c >= 0 (NaN stays NaN). */
void nnf_clip_value_f32(size_t n, float *NNF_RESTRICT x, double clip_value, int nthreads);
void nnf_clip_value_f64(size_t n, double *NNF_RESTRICT x, double clip_value, int nthreads);

#ifdef __cplusplus
}
#endif

#endif /* NNF_OPTIM_H */
