/* nnf_mlp.h -- a compiled multi-layer perceptron: whole training steps and inference in C.
 *
 * A plan (nnf_mlp_plan) describes a stack of Dense / Activation / Dropout / BatchNormalization
 * / LayerNormalization layers, a fused loss and an optimizer; its weights (Dense kernels and
 * biases, norm gammas and betas) live in one flat parameter buffer (the model's ParamStore
 * layout), batch norm's moving statistics in the store's state buffer, its per-batch
 * activations and gradients in one preallocated work buffer. One call of nnf_mlp_train_* runs
 * many mini-batch steps without returning to Python:
 *
 *   for each step s: gather rows order[(first_batch+s)·batch ...] of X, T, W into contiguous
 *   buffers; forward (GEMM, then bias+activation fused in one pass; nnf_norm's batch/layer
 *   norm kernels, batch norm then updating its moving statistics); fused loss writing
 *   dL/dlogits; backward (activation derivative into the incoming gradient in place,
 *   dW := Aᵀ·dZ, db := Σ_rows dZ, dA := dZ·Wᵀ; the norm kernels' backward); the regularizers' gradients (nnf_optim's
 *   scale-add and add-sign, as nnfast.regularizers calls them) added to the weight gradients
 *   and their penalties (nnf_optim's sums of squares and of absolute values, of the weights
 *   before the step) to the loss; one optimizer kernel per trainable run of the flat buffer
 *   with learning rate lrs[s] and step counter iteration + s + 1.
 *
 * Every computation is the one the model's per-layer Python path makes (same kernels, same GEMM
 * shapes, same summation orders), so results agree with it to the last bit on one thread
 * count. GEMMs go through a BLAS ?gemm function pointer (Fortran calling convention, e.g.
 * scipy.linalg.cython_blas.sgemm), always called from the calling thread, never inside an
 * OpenMP region; the element-wise kernels use up to `nthreads` OpenMP threads.
 *
 * Arrays are C-contiguous, row-major. Offsets are in elements. Nothing here allocates except
 * the loss kernels' block-sum scratch for batches over 8192 rows; nothing checks its arguments
 * (nnfast/_plan.py builds and checks the plan).
 */
#ifndef NNF_MLP_H
#define NNF_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "nnf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fortran BLAS GEMM: C := alpha·op(A)·op(B) + beta·C, column-major, every argument by pointer. */
typedef void (*nnf_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, float *alpha,
                             float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                             int *ldc);
typedef void (*nnf_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, double *alpha,
                             double *a, int *lda, double *b, int *ldb, double *beta, double *c,
                             int *ldc);

#define NNF_MLP_NONE ((size_t)-1)

/* Layer kinds. */
enum nnf_mlp_kind {
    NNF_MLP_DENSE = 0,
    NNF_MLP_ACTIVATION = 1,
    NNF_MLP_DROPOUT = 2,
    NNF_MLP_BATCH_NORM = 3,
    NNF_MLP_LAYER_NORM = 4
};

/* Losses: which nnf_loss kernel computes (loss, dL/doutput) from the last layer's output. */
enum nnf_mlp_loss {
    NNF_MLP_SPARSE_XENT = 0,      /* softmax cross-entropy of logits, integer labels          */
    NNF_MLP_CATEGORICAL_XENT = 1, /* softmax cross-entropy of logits, dense targets, smoothing */
    NNF_MLP_SIGMOID_XENT = 2,     /* sigmoid binary cross-entropy of logits, smoothing         */
    NNF_MLP_MSE = 3,              /* mean squared error of the outputs                         */
    NNF_MLP_MAE = 4,              /* mean absolute error                                       */
    NNF_MLP_HUBER = 5             /* Huber with delta = loss_param                             */
};

/* Correct-count rules for the accuracy metric (the model's metric on the same outputs). */
enum nnf_mlp_metric {
    NNF_MLP_COUNT_NONE = 0,
    NNF_MLP_COUNT_ARGMAX_LABEL = 1, /* argmax_j out_ij == label_i                    */
    NNF_MLP_COUNT_ARGMAX_DENSE = 2, /* argmax_j out_ij == argmax_j t_ij              */
    NNF_MLP_COUNT_SIGMOID = 3,      /* (sigmoid(out_i) > 1/2) == (t_i > 1/2), 1 column */
    NNF_MLP_COUNT_THRESHOLD = 4     /* (out_i > 1/2) == (t_i > 1/2), 1 column         */
};

/* Optimizers (nnf_optim.h's rules). */
enum nnf_mlp_opt { NNF_MLP_SGD = 0, NNF_MLP_RMSPROP = 1, NNF_MLP_ADAM = 2 };

/* Gradient clipping before the update, as nnfast.optimizers.Optimizer.step (Keras's options):
 * NORM rescales each trainable tensor whose norm exceeds clip_max to that norm; VALUE clamps
 * every element to [-clip_max, clip_max]; GLOBAL_NORM multiplies every run by
 * clip_max / (norm + clip_eps) when that is below 1 (torch.nn.utils.clip_grad_norm_), the norm
 * summed over the runs in order. */
enum nnf_mlp_clip {
    NNF_MLP_CLIP_NONE = 0,
    NNF_MLP_CLIP_NORM = 1,
    NNF_MLP_CLIP_VALUE = 2,
    NNF_MLP_CLIP_GLOBAL_NORM = 3
};

typedef struct nnf_mlp_layer {
    int kind;           /* enum nnf_mlp_kind                                                  */
    int act;            /* activation code (nnf_act.h) applied in training (LINEAR: logits)   */
    int act_infer;      /* activation code applied in inference                               */
    int keeps_z;        /* Dense: pre-activation kept in z (gelu, swish, softmax)             */
    int grad;           /* 1: write weight gradients (trainable Dense at or after `first`)    */
    int backward;       /* 1: this layer's backward runs (index >= the first trainable)        */
    int dx;             /* 1: write the input gradient (index > the first trainable)          */
    int batch_stats;    /* BatchNorm: 1 = training mode (batch statistics, moving update); 0 =
                           inference mode in training too (a frozen layer, as in Keras)       */
    size_t in, out;     /* widths                                                             */
    size_t w, b;        /* Dense: offsets of kernel (in x out) and bias (out) in params/grads;
                           BatchNorm, LayerNorm: offsets of gamma and beta (out each)         */
    size_t y, dy, z;    /* work offsets of the output, its gradient, the pre-activation (cap x out) */
    size_t mask;        /* Dropout: work offset of the mask (cap x in)                        */
    size_t stats;       /* BatchNorm: work offset of 5·out (mean, inv_std, the frozen layer's
                           dx scale, dgamma, dbeta); LayerNorm: of 2·cap + 2·out (row mean,
                           row inv_std, the frozen layer's dgamma, dbeta)                     */
    size_t moving_mean, moving_var; /* BatchNorm: offsets (out each) in the state buffer      */
    double rate;        /* Dropout rate                                                       */
    double epsilon, momentum;       /* BatchNorm, LayerNorm: epsilon; BatchNorm: momentum     */
    double kernel_l1, kernel_l2; /* Dense (grad): regularizer strengths of the kernel (0: none) */
    double bias_l1, bias_l2;     /* Dense (grad): regularizer strengths of the bias            */
} nnf_mlp_layer;

typedef struct nnf_mlp_plan {
    size_t n_layers;
    const nnf_mlp_layer *layers;
    size_t cap;                 /* rows the work buffers hold (the batch size)               */
    size_t in_dim, out_dim;
    size_t xbuf, tbuf, wbuf;    /* work offsets: gathered X (cap x in), T (cap x out), W (cap) */
    int loss;                   /* enum nnf_mlp_loss                                          */
    double loss_param;          /* label smoothing, or Huber's delta                          */
    int metric;                 /* enum nnf_mlp_metric                                        */
    int opt;                    /* enum nnf_mlp_opt                                           */
    double beta_1, beta_2, epsilon, weight_decay, momentum, rho;
    int nesterov, decoupled;
    size_t n_runs;
    const size_t *runs;         /* n_runs (lo, hi) pairs: trainable spans of the flat buffer   */
    size_t widest;              /* widest layer (per-thread bias-gradient scratch)            */
    int clip;                   /* enum nnf_mlp_clip                                          */
    double clip_max, clip_eps;  /* the clipping threshold; GLOBAL_NORM's epsilon              */
    size_t n_tensors;
    const size_t *tensors;      /* n_tensors (lo, hi) pairs: the trainable tensors (NORM)     */
} nnf_mlp_plan;

/* Run n_steps training steps; batch s covers rows [(first_batch+s)·batch, min(n_rows, ...+batch))
 * of order (order NULL: of X itself, read in place). T is (n_rows, out_dim) dense targets or
 * NULL; labels (n_rows) class indices or NULL; W (n_rows) sample weights or NULL (all ones);
 * seeds holds one dropout seed per step and active Dropout layer, step-major. params/grads are
 * the flat buffers, state the non-trainable one (batch norm's moving statistics, updated in
 * place; NULL without batch norm), s1/s2 the optimizer state (Adam m, v; RMSprop square_avg, momentum; SGD
 * momentum; NULL when unused). Writes losses[s] = the batch's mean loss before the step (plus
 * the regularizers' penalties: l1·Σ|w| + l2·Σw² per regularized tensor, in layer order) and,
 * when correct != NULL, correct[s] = its correct-prediction count; when outs != NULL, the
 * batch's last-layer outputs of the training forward (logits where the loss fuses the link)
 * at outs + s·batch·out_dim (m x out_dim), for metrics computed outside. dscratch holds
 * 2·widest·nthreads + ceil(cap / 16) + nthreads doubles (per-thread bias-gradient scratch, then
 * a softmax cross-entropy's 16-row block sums and per-thread correct counts for the team),
 * lbuf cap labels. nthreads > 1 runs the chunk in one OpenMP region (not with clipping)
 * whose threads call `gemm` concurrently: the BLAS must then be single-threaded (the caller
 * sets it); nthreads = 1 leaves BLAS its own threads. Returns 0, or -1 when a loss kernel's
 * scratch could not be allocated (losses from that step on are not written). */
int nnf_mlp_train_f32(const nnf_mlp_plan *p, nnf_sgemm_fn gemm, float *params, float *grads,
                      float *state, float *s1, float *s2, float *work, double *dscratch, intptr_t *lbuf,
                      const float *X, const float *T, const intptr_t *labels, const float *W,
                      const int64_t *order, size_t n_rows, size_t batch, size_t first_batch,
                      size_t n_steps, long long iteration, const double *lrs,
                      const uint64_t *seeds, double *losses, double *correct, float *outs,
                      int nthreads);
int nnf_mlp_train_f64(const nnf_mlp_plan *p, nnf_dgemm_fn gemm, double *params, double *grads,
                      double *state, double *s1, double *s2, double *work, double *dscratch, intptr_t *lbuf,
                      const double *X, const double *T, const intptr_t *labels, const double *W,
                      const int64_t *order, size_t n_rows, size_t batch, size_t first_batch,
                      size_t n_steps, long long iteration, const double *lrs,
                      const uint64_t *seeds, double *losses, double *correct, double *outs,
                      int nthreads);

/* Inference: out (n x out_dim) := the network's output activations for X (n x in_dim), in
 * chunks of at most `rows` rows (the Python path's predict chunk). buf_a, buf_b and buf_z hold
 * rows x (widest layer) elements each, buf_s 2·rows (layer norm's row statistics); Dropout is
 * the identity, batch norm normalizes with the moving statistics in state. Batches of 1-2 rows skip BLAS
 * (a row kernel): their results may differ from the GEMM path in the last bits. logits != 0
 * skips the last layer's activation (the logits a fused loss reads: evaluate). Element-wise
 * work stays on the calling thread (`nthreads` is reserved); BLAS uses its own threads. */
void nnf_mlp_predict_f32(const nnf_mlp_plan *p, nnf_sgemm_fn gemm, const float *params,
                         const float *state, float *buf_a, float *buf_b, float *buf_z,
                         float *buf_s, size_t rows, const float *X, size_t n, float *out,
                         int logits, int nthreads);
void nnf_mlp_predict_f64(const nnf_mlp_plan *p, nnf_dgemm_fn gemm, const double *params,
                         const double *state, double *buf_a, double *buf_b, double *buf_z,
                         double *buf_s, size_t rows, const double *X, size_t n, double *out,
                         int logits, int nthreads);

/* Evaluation of m rows (m >= 1): out (m x out_dim) := the forward pass of nnf_mlp_predict
 * (logits as there), then *loss := the plan's loss of out against T / labels with weights W
 * (NULL: ones), as a training step computes it, and, when correct != NULL, *correct := its
 * correct-prediction count (the plan's metric rule). g (m x out_dim) receives the loss's
 * gradient (scratch). Returns 0, or -1 when the loss kernel's scratch could not be allocated. */
int nnf_mlp_evaluate_f32(const nnf_mlp_plan *p, nnf_sgemm_fn gemm, const float *params,
                         const float *state, float *buf_a, float *buf_b, float *buf_z,
                         float *buf_s, size_t rows, const float *X, const float *T,
                         const intptr_t *labels, const float *W, size_t m, float *out,
                         int logits, float *g, double *loss, double *correct);
int nnf_mlp_evaluate_f64(const nnf_mlp_plan *p, nnf_dgemm_fn gemm, const double *params,
                         const double *state, double *buf_a, double *buf_b, double *buf_z,
                         double *buf_s, size_t rows, const double *X, const double *T,
                         const intptr_t *labels, const double *W, size_t m, double *out,
                         int logits, double *g, double *loss, double *correct);

#ifdef __cplusplus
}
#endif

#endif /* NNF_MLP_H */
