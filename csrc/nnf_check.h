/* nnf_check.h -- checks on user input that must not cost more than the work they guard.
 *
 * nnf_all_finite: whether n values hold no NaN and no infinity, read as bits (an exponent of
 * all ones) in one pass, no temporary: `np.isfinite(X).all()` allocates a boolean array and
 * reads X and it again (173 us on a 1024 x 784 float32 batch, 7% of that batch's predict), and
 * NumPy's reductions cost ~3 us even on one row (a batch-1 predict is ~15 us).
 *
 * nnf_all_within: whether n values lie in [lo, hi] (NaN does not), in one pass on one thread:
 * the 0/1 targets of binary cross-entropy, checked per train_on_batch call (isfinite, min and
 * max through NumPy cost ~5 us for a 32-row batch).
 */
#ifndef NNF_CHECK_H
#define NNF_CHECK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when every x[i], i < n, is finite, else 0. */
int nnf_all_finite_f32(const float *x, size_t n, int nthreads);
int nnf_all_finite_f64(const double *x, size_t n, int nthreads);

/* 1 when lo <= x[i] <= hi for every i < n (a NaN fails), else 0. */
int nnf_all_within_f32(const float *x, size_t n, float lo, float hi);
int nnf_all_within_f64(const double *x, size_t n, double lo, double hi);

#ifdef __cplusplus
}
#endif

#endif /* NNF_CHECK_H */
