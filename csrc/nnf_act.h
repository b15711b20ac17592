/* nnf_act.h -- activation functions, their derivatives, row softmax, and the dense layer's
 * fused bias+activation epilogue and bias gradient.
 *
 * Every function exists for float (_f32) and double (_f64), written once in nnf_act.c.
 * Arrays are C-contiguous; `n` counts elements, `rows x cols` is a row-major matrix.
 * Element-wise functions allow exact in-place use (output pointer == input pointer); any other
 * overlap is undefined. `nthreads` is the most OpenMP threads a call may use (small calls stay
 * on the calling thread).
 */
#ifndef NNF_ACT_H
#define NNF_ACT_H

#include <stddef.h>

/* Activation codes (shared with the other kernels and the model: never renumber). */
enum nnf_act_code {
    NNF_ACT_LINEAR = 0,     /* x                                  */
    NNF_ACT_RELU = 1,       /* max(x, 0)                          */
    NNF_ACT_LEAKY_RELU = 2, /* x >= 0 ? x : 0.01 x                */
    NNF_ACT_ELU = 3,        /* x >= 0 ? x : exp(x) - 1            */
    NNF_ACT_SIGMOID = 4,    /* 1 / (1 + exp(-x))                  */
    NNF_ACT_TANH = 5,       /* tanh(x)                            */
    NNF_ACT_GELU = 6,       /* x Phi(x) = x (1 + erf(x/sqrt 2))/2 */
    NNF_ACT_SWISH = 7,      /* x sigmoid(x)  (= silu)             */
    NNF_ACT_SOFTPLUS = 8,   /* log(1 + exp(x))                    */
    NNF_ACT_SOFTMAX = 9     /* row-wise exp(x_ij - m_i) / sum_j exp(x_ij - m_i), m_i = max_j x_ij */
};
#define NNF_ACT_COUNT 10
#define NNF_LEAKY_RELU_ALPHA 0.01
#define NNF_ELU_ALPHA 1.0

/* Whether the derivative of `code` is computed from the output y (1) or the input x (0):
 * y for relu, leaky_relu, elu, sigmoid, tanh, softplus, softmax; x for gelu and swish
 * (linear needs neither and reports 1). */
int nnf_act_backward_uses_output(int code);

/* y[i] := act(x[i]) for i < n, for every code but NNF_ACT_SOFTMAX (which does nothing here). */
void nnf_act_forward_f32(int code, size_t n, const float *x, float *y, int nthreads);
void nnf_act_forward_f64(int code, size_t n, const double *x, double *y, int nthreads);

/* dx[i] := dy[i] act'(x[i]), reading s = y (the forward output) or s = x (the input) as
 * nnf_act_backward_uses_output(code) says; dx may be dy. Not for NNF_ACT_SOFTMAX. */
void nnf_act_backward_f32(int code, size_t n, const float *s, const float *dy, float *dx,
                          int nthreads);
void nnf_act_backward_f64(int code, size_t n, const double *s, const double *dy, double *dx,
                          int nthreads);

/* y_ij := exp(x_ij - m_i) / sum_k exp(x_ik - m_i), m_i = max_k x_ik (rows x cols; y may be x). */
void nnf_softmax_f32(size_t rows, size_t cols, const float *x, float *y, int nthreads);
void nnf_softmax_f64(size_t rows, size_t cols, const double *x, double *y, int nthreads);

/* y_ij := x_ij - m_i - log sum_k exp(x_ik - m_i) (rows x cols; y may be x). */
void nnf_log_softmax_f32(size_t rows, size_t cols, const float *x, float *y, int nthreads);
void nnf_log_softmax_f64(size_t rows, size_t cols, const double *x, double *y, int nthreads);

/* dx_ij := y_ij (dy_ij - sum_k dy_ik y_ik), the softmax backward from its output y
 * (rows x cols; dx may be dy). */
void nnf_softmax_backward_f32(size_t rows, size_t cols, const float *y, const float *dy,
                              float *dx, int nthreads);
void nnf_softmax_backward_f64(size_t rows, size_t cols, const double *y, const double *dy,
                              double *dx, int nthreads);

/* z_ij := act(z_ij + bias_j) in one pass (rows x cols, bias of length cols or NULL); for
 * NNF_ACT_SOFTMAX the bias is added and each row soft-maxed. */
void nnf_bias_act_f32(int code, size_t rows, size_t cols, float *z, const float *bias,
                      int nthreads);
void nnf_bias_act_f64(int code, size_t rows, size_t cols, double *z, const double *bias,
                      int nthreads);

/* out_j := sum_i g_ij (rows x cols -> cols), accumulated in double. The rows are summed in
 * fixed blocks of NNF_BIAS_GRAD_BLOCK whose partial sums are added in block order, so the result
 * is bit-identical for every thread count. Returns 0, or -1 when the partial-sum buffer could
 * not be allocated (out untouched). */
#define NNF_BIAS_GRAD_BLOCK 64
int nnf_bias_grad_f32(size_t rows, size_t cols, const float *g, float *out, int nthreads);
int nnf_bias_grad_f64(size_t rows, size_t cols, const double *g, double *out, int nthreads);

/* y[i] := f(x[i]) with the float32 math the kernels use, for accuracy tests:
 * f = erf (0), the normal CDF Phi (1), tanh (2), expm1 (3); other values do nothing. */
void nnf_act_math_f32(int fn, size_t n, const float *x, float *y);

#endif /* NNF_ACT_H */
