/* nnf_norm.h -- batch/layer normalization, inverted dropout and row gather.
 *
 * Arrays are C-contiguous and row-major: x is (n, d) with row i at x + i*d. Every function
 * exists for float (_f32) and double (_f64); both are compiled from one template in
 * nnf_norm.c. Statistics (means, variances, the sums of the backward passes) are accumulated in
 * double in a fixed order, so results do not depend on `nthreads` (the thread count; loops too
 * small to pay for a team run on the calling thread). Nothing here allocates; nothing checks its
 * arguments (the ops layer has): sizes may be 0.
 *
 * In-place use: `y`/`dx` may be exactly the same array as `x`/`dy` (never a partial overlap);
 * every other output must not overlap any input.
 */
#ifndef NNF_NORM_H
#define NNF_NORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Batch normalization, training mode, statistics per column of x (n, d), n >= 1:
 * mean_j = Σ_i x_ij / n, var_j = Σ_i (x_ij − mean_j)² / n (two passes, in double),
 * inv_std_j = 1/sqrt(var_j + eps), y_ij = gamma_j·(x_ij − mean_j)·inv_std_j + beta_j. */
void nnf_batch_norm_forward_f32(const float *x, size_t n, size_t d, const float *gamma,
                                const float *beta, double eps, float *y, float *mean,
                                float *inv_std, int nthreads);
void nnf_batch_norm_forward_f64(const double *x, size_t n, size_t d, const double *gamma,
                                const double *beta, double eps, double *y, double *mean,
                                double *inv_std, int nthreads);

/* Batch normalization, inference mode, with the moving statistics:
 * y_ij = gamma_j·(x_ij − moving_mean_j)/sqrt(moving_var_j + eps) + beta_j. */
void nnf_batch_norm_inference_f32(const float *x, size_t n, size_t d, const float *gamma,
                                  const float *beta, const float *moving_mean,
                                  const float *moving_var, double eps, float *y, int nthreads);
void nnf_batch_norm_inference_f64(const double *x, size_t n, size_t d, const double *gamma,
                                  const double *beta, const double *moving_mean,
                                  const double *moving_var, double eps, double *y, int nthreads);

/* Batch normalization's moving statistics after a training-mode forward pass (Keras's momentum
 * convention, the arithmetic of nnfast's BatchNormalization layer), for j < d:
 *   moving_mean_j = m·moving_mean_j + (1 − m)·mean_j   ((1 − m)·mean_j rounded to T first),
 *   moving_var_j  = m·moving_var_j + (1 − m)·max(var_j, 0),  var_j = (1/inv_std_j)² − eps,
 * each sum in double, rounded to T once. mean and inv_std are what the forward pass wrote. */
void nnf_batch_norm_update_moving_f32(size_t d, const float *mean, const float *inv_std,
                                      double eps, double momentum, float *moving_mean,
                                      float *moving_var);
void nnf_batch_norm_update_moving_f64(size_t d, const double *mean, const double *inv_std,
                                      double eps, double momentum, double *moving_mean,
                                      double *moving_var);

/* Batch normalization backward (training mode), x̂_ij = (x_ij − mean_j)·inv_std_j:
 * dbeta_j = Σ_i dy_ij, dgamma_j = Σ_i dy_ij·x̂_ij,
 * dx_ij = gamma_j·inv_std_j·(dy_ij − dbeta_j/n − x̂_ij·dgamma_j/n). dx may be dy. */
void nnf_batch_norm_backward_f32(const float *dy, const float *x, size_t n, size_t d,
                                 const float *gamma, const float *mean, const float *inv_std,
                                 float *dx, float *dgamma, float *dbeta, int nthreads);
void nnf_batch_norm_backward_f64(const double *dy, const double *x, size_t n, size_t d,
                                 const double *gamma, const double *mean, const double *inv_std,
                                 double *dx, double *dgamma, double *dbeta, int nthreads);

/* Layer normalization, statistics per row of x (n, d), d >= 1 when n >= 1:
 * mean_i = Σ_j x_ij / d, var_i = Σ_j (x_ij − mean_i)² / d, inv_std_i = 1/sqrt(var_i + eps),
 * y_ij = gamma_j·(x_ij − mean_i)·inv_std_i + beta_j. */
void nnf_layer_norm_forward_f32(const float *x, size_t n, size_t d, const float *gamma,
                                const float *beta, double eps, float *y, float *mean,
                                float *inv_std, int nthreads);
void nnf_layer_norm_forward_f64(const double *x, size_t n, size_t d, const double *gamma,
                                const double *beta, double eps, double *y, double *mean,
                                double *inv_std, int nthreads);

/* Layer normalization backward, x̂_ij = (x_ij − mean_i)·inv_std_i, g_ij = dy_ij·gamma_j:
 * dx_ij = inv_std_i·(g_ij − Σ_k g_ik / d − x̂_ij·Σ_k g_ik·x̂_ik / d),
 * dgamma_j = Σ_i dy_ij·x̂_ij, dbeta_j = Σ_i dy_ij. dx may be dy. */
void nnf_layer_norm_backward_f32(const float *dy, const float *x, size_t n, size_t d,
                                 const float *gamma, const float *mean, const float *inv_std,
                                 float *dx, float *dgamma, float *dbeta, int nthreads);
void nnf_layer_norm_backward_f64(const double *dy, const double *x, size_t n, size_t d,
                                 const double *gamma, const double *mean, const double *inv_std,
                                 double *dx, double *dgamma, double *dbeta, int nthreads);

/* The counter-based random bits of element pair p = k/2 for a seed: splitmix64's output function
 * applied to key + p·γ, key = splitmix64(seed), γ = 0x9E3779B97F4A7C15 (Steele, Lea & Flood
 * 2014). Element 2p draws the low 32 bits, element 2p+1 the high 32 bits. */
uint64_t nnf_dropout_bits(uint64_t seed, uint64_t p);

/* Inverted dropout over `size` elements: u_k = w_k·2⁻³² in [0, 1) with w_k element k's 32 bits,
 * mask_k = (u_k >= rate) / (1 − rate), y_k = x_k·mask_k, 0 <= rate < 1. y may be x. */
void nnf_dropout_forward_f32(const float *x, size_t size, double rate, uint64_t seed, float *y,
                             float *mask, int nthreads);
void nnf_dropout_forward_f64(const double *x, size_t size, double rate, uint64_t seed, double *y,
                             double *mask, int nthreads);

/* Dropout backward: dx_k = dy_k·mask_k. dx may be dy. */
void nnf_dropout_backward_f32(const float *dy, const float *mask, size_t size, float *dx,
                              int nthreads);
void nnf_dropout_backward_f64(const double *dy, const double *mask, size_t size, double *dx,
                              int nthreads);

/* Row gather: out[r, j] = x[idx[r]·row_stride + j·col_stride] for r < n_out, j < d (strides in
 * elements, any sign; every idx[r] a valid row). out is (n_out, d), C-contiguous. */
void nnf_gather_rows_f32(const float *x, ptrdiff_t row_stride, ptrdiff_t col_stride, size_t d,
                         const int64_t *idx, size_t n_out, float *out, int nthreads);
void nnf_gather_rows_f64(const double *x, ptrdiff_t row_stride, ptrdiff_t col_stride, size_t d,
                         const int64_t *idx, size_t n_out, double *out, int nthreads);

#ifdef __cplusplus
}
#endif

#endif /* NNF_NORM_H */
