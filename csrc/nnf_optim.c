/* nnf_optim.c -- optimizer updates and clipping (see nnf_optim.h for the math).
 *
 * float and double are written once: this file includes itself twice with NNF_T set to each
 * type (the part below `#else` is the template). Each kernel is a driver that precomputes its
 * scalars in double and runs NNF_PARALLEL_CHUNKS, plus a multi-versioned (NNF_CLONES,
 * below) chunk function holding the element loop. Loop-invariant switches (weight decay on/off, Nesterov,
 * the lerp form) are selects on constants: GCC unswitches the loops and vectorises each copy.
 */
#ifndef NNF_OPTIM_TEMPLATE

#include <float.h>
#include <math.h>

#include "nnf_optim.h"

/* Optimizer state (momentum buffers, Adam's moments, RMSprop's average) below the smallest
 * normal number is stored as 0. A weight whose gradient is 0 (a dead ReLU unit) has its
 * state decay geometrically into the subnormal range, where every multiply takes a microcode
 * assist (~100x slower): measured, 784-256-128-10 on random labels, float32, batch 32, one
 * thread: 47,800 samples/s in epoch 1, 10,600 from epoch 4 with 219,000 subnormal Adam first
 * moments. Such a state's share of an update is below 1e-30 of the learning rate. */
#define NNF_FLUSH(x) (NNF_FABS(x) < NNF_TINY ? (NNF_T)0 : (x))

/* An update's chunks: NNF_PARALLEL_CHUNKS with subnormal results and inputs flushed to zero on
 * each thread for the chunk (nnf_fp_flush_begin, nnf_common.h), the stored state being flushed
 * below the smallest normal number already (NNF_FLUSH). */
#define NNF_UPDATE_CHUNKS(n, cost, nthreads, call)                    \
    NNF_PARALLEL_CHUNKS(n, cost, nthreads, {                          \
        const nnf_fp_mode nnf_mode_ = nnf_fp_flush_begin();           \
        call;                                                         \
        nnf_fp_flush_end(nnf_mode_);                                  \
    })


/* Relative cost per element for sizing thread teams (nnf_team_size: a team forms from
 * NNF_PAR_MIN_WORK units). These kernels stream 2-7 arrays, and near the point where a team
 * pays they are out of L2: each element costs its memory traffic more than its arithmetic.
 * Measured on a 2-vCPU Intel Xeon (Sapphire Rapids), float32, 1 against 2 threads with 1 ms of
 * other work between calls (the team asleep: the case of a lone call), a team paid from about
 * 200K elements for scale_add (262,144: 171 -> 144 us), SGD with momentum (265 -> 185 us) and
 * Adam (414 -> 279 us; 131,072: 152 -> 189 us, a loss) and from about 550K for the norm's
 * single read stream, against a measured threshold of 340-550K units there: hence these
 * costs. (Earlier ones, 0.5-2 from in-cache times, left SGD and scale_add on one thread up
 * to a million elements, 1.8x slower than two threads there.) */
#define NNF_OPTIM_COST_AXPY 2.5
#define NNF_OPTIM_COST_NORM 1.0
#define NNF_OPTIM_COST_SGD 2.5
#define NNF_OPTIM_COST_RMSPROP 3.0
#define NNF_OPTIM_COST_ADAM 3.0

/* Sum-of-squares blocks: at most NNF_NORM_BLOCKS (nnf_optim.h) of them, each at least
 * NNF_NORM_MIN_BLOCK elements (a multiple of 16): a block ends by folding its NNF_NORM_LANES
 * lanes one by one, which must stay small next to the block's own work. */
#define NNF_NORM_MIN_BLOCK 4096
#define NNF_NORM_LANES 32

#if NNF_HAVE_CLONES
#include <immintrin.h>

/* Σ x² (squares) or Σ |x| of float32 over [lo, hi) with AVX2 + FMA, in place of the x86-64-v3
 * clones of sum_squares_lanes / sum_abs_lanes: their lanes (lane j of each 32 elements holds
 * those at j mod 32) and fold order, so their bits, but every four floats converted to double
 * straight from memory (vcvtps2pd ymm, m128). GCC vectorises those loops with half the
 * conversions through vextractf128: Σ x² of 100,000 floats in L2, one thread, AMD Zen 3, C
 * harness: 10.8 us against 5.4 us for this. */
__attribute__((target("avx2,fma"), always_inline)) static inline double
sum_f32_avx2(const float *NNF_RESTRICT x, size_t lo, size_t hi, const int squares)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d acc[NNF_NORM_LANES / 4];
    for (int j = 0; j < NNF_NORM_LANES / 4; j++)
        acc[j] = _mm256_setzero_pd();
    size_t i = lo;
    for (; i + NNF_NORM_LANES <= hi; i += NNF_NORM_LANES)
        for (int j = 0; j < NNF_NORM_LANES / 4; j++) {
            const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * j));
            acc[j] = squares ? _mm256_fmadd_pd(v, v, acc[j])
                             : _mm256_add_pd(acc[j], _mm256_andnot_pd(sign, v));
        }
    double s = 0.0;
    if (squares)
        for (; i < hi; i++)
            s += (double)x[i] * (double)x[i];
    else
        for (; i < hi; i++)
            s += fabs((double)x[i]);
    double lanes[NNF_NORM_LANES];
    for (int j = 0; j < NNF_NORM_LANES / 4; j++)
        _mm256_storeu_pd(lanes + 4 * j, acc[j]);
    for (int j = 0; j < NNF_NORM_LANES; j++)
        s += lanes[j];
    return s;
}

/* sum_f32_avx2 compiled once per sum: with `squares` a run-time flag GCC kept the test in the
 * loop and spilled an accumulator to the stack. */
__attribute__((target("avx2,fma"))) static double
sum_squares_f32_avx2(const float *NNF_RESTRICT x, size_t lo, size_t hi)
{
    return sum_f32_avx2(x, lo, hi, 1);
}

__attribute__((target("avx2,fma"))) static double
sum_abs_f32_avx2(const float *NNF_RESTRICT x, size_t lo, size_t hi)
{
    return sum_f32_avx2(x, lo, hi, 0);
}
#endif

/* The block length for n elements: depends on n only, so the summation order does too. */
static size_t nnf_norm_block(size_t n)
{
    size_t b = (n + NNF_NORM_BLOCKS - 1) / NNF_NORM_BLOCKS;
    b = (b + 15) & ~(size_t)15;
    return b < NNF_NORM_MIN_BLOCK ? NNF_NORM_MIN_BLOCK : b;
}

#define NNF_OPTIM_TEMPLATE 1

#define NNF_T float
#define NNF_OPTIM_F32 1
#define NNF_FN(name) name##_f32
#define NNF_SQRT sqrtf
#define NNF_FABS fabsf
#define NNF_TINY FLT_MIN
#include "nnf_optim.c"
#undef NNF_T
#undef NNF_OPTIM_F32
#undef NNF_FN
#undef NNF_SQRT
#undef NNF_FABS
#undef NNF_TINY

#define NNF_T double
#define NNF_OPTIM_F32 0
#define NNF_FN(name) name##_f64
#define NNF_SQRT sqrt
#define NNF_FABS fabs
#define NNF_TINY DBL_MIN
#include "nnf_optim.c"
#undef NNF_T
#undef NNF_OPTIM_F32
#undef NNF_FN
#undef NNF_SQRT
#undef NNF_FABS
#undef NNF_TINY

#else /* ---------------- template: one precision, NNF_T ---------------- */

/* ---- SGD ---- */

NNF_CLONES static void NNF_FN(sgd_plain_chunk)(NNF_T *NNF_RESTRICT p, const NNF_T *NNF_RESTRICT g,
                                              NNF_T lr, NNF_T wd, int has_wd, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        NNF_T gi = has_wd ? g[i] + wd * p[i] : g[i];
        p[i] = p[i] - lr * gi;
    }
}

NNF_CLONES static void NNF_FN(sgd_momentum_chunk)(NNF_T *NNF_RESTRICT p, const NNF_T *NNF_RESTRICT g,
                                                 NNF_T *NNF_RESTRICT b, NNF_T lr, NNF_T mu, NNF_T wd,
                                                 int has_wd, int nesterov, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        NNF_T gi = has_wd ? g[i] + wd * p[i] : g[i];
        NNF_T bi = NNF_FLUSH(mu * b[i] + gi);
        NNF_T di = nesterov ? gi + mu * bi : bi;
        b[i] = bi;
        p[i] = p[i] - lr * di;
    }
}

void NNF_FN(nnf_sgd_update)(size_t n, NNF_T *NNF_RESTRICT param, const NNF_T *NNF_RESTRICT grad,
                            NNF_T *NNF_RESTRICT buf, double learning_rate, double momentum,
                            int nesterov, double weight_decay, int nthreads)
{
    const NNF_T lr = (NNF_T)learning_rate, mu = (NNF_T)momentum, wd = (NNF_T)weight_decay;
    const int has_wd = weight_decay != 0.0;
    if (momentum != 0.0) {
        NNF_UPDATE_CHUNKS(n, NNF_OPTIM_COST_SGD, nthreads,
            NNF_FN(sgd_momentum_chunk)(param, grad, buf, lr, mu, wd, has_wd, nesterov != 0, lo, hi));
    } else {
        NNF_UPDATE_CHUNKS(n, NNF_OPTIM_COST_SGD, nthreads,
            NNF_FN(sgd_plain_chunk)(param, grad, lr, wd, has_wd, lo, hi));
    }
}

/* ---- RMSprop ---- */

NNF_CLONES static void NNF_FN(rmsprop_plain_chunk)(NNF_T *NNF_RESTRICT p, const NNF_T *NNF_RESTRICT g,
                                                  NNF_T *NNF_RESTRICT v, NNF_T lr, NNF_T rho,
                                                  NNF_T one_minus_rho, NNF_T eps, NNF_T wd,
                                                  int has_wd, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        NNF_T gi = has_wd ? g[i] + wd * p[i] : g[i];
        NNF_T vi = NNF_FLUSH(rho * v[i] + one_minus_rho * (gi * gi));
        v[i] = vi;
        p[i] = p[i] - lr * gi / (NNF_SQRT(vi) + eps);
    }
}

NNF_CLONES static void NNF_FN(rmsprop_momentum_chunk)(NNF_T *NNF_RESTRICT p, const NNF_T *NNF_RESTRICT g,
                                                     NNF_T *NNF_RESTRICT v, NNF_T *NNF_RESTRICT b,
                                                     NNF_T lr, NNF_T rho, NNF_T one_minus_rho,
                                                     NNF_T eps, NNF_T mu, NNF_T wd, int has_wd,
                                                     size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        NNF_T gi = has_wd ? g[i] + wd * p[i] : g[i];
        NNF_T vi = NNF_FLUSH(rho * v[i] + one_minus_rho * (gi * gi));
        NNF_T bi = NNF_FLUSH(mu * b[i] + gi / (NNF_SQRT(vi) + eps));
        v[i] = vi;
        b[i] = bi;
        p[i] = p[i] - lr * bi;
    }
}

void NNF_FN(nnf_rmsprop_update)(size_t n, NNF_T *NNF_RESTRICT param, const NNF_T *NNF_RESTRICT grad,
                                NNF_T *NNF_RESTRICT square_avg, NNF_T *NNF_RESTRICT buf,
                                double learning_rate, double rho, double epsilon, double momentum,
                                double weight_decay, int nthreads)
{
    const NNF_T lr = (NNF_T)learning_rate, r = (NNF_T)rho, omr = (NNF_T)(1.0 - rho);
    const NNF_T eps = (NNF_T)epsilon, mu = (NNF_T)momentum, wd = (NNF_T)weight_decay;
    const int has_wd = weight_decay != 0.0;
    if (momentum > 0.0) {
        NNF_UPDATE_CHUNKS(n, NNF_OPTIM_COST_RMSPROP, nthreads,
            NNF_FN(rmsprop_momentum_chunk)(param, grad, square_avg, buf, lr, r, omr, eps, mu, wd,
                                           has_wd, lo, hi));
    } else {
        NNF_UPDATE_CHUNKS(n, NNF_OPTIM_COST_RMSPROP, nthreads,
            NNF_FN(rmsprop_plain_chunk)(param, grad, square_avg, lr, r, omr, eps, wd, has_wd,
                                        lo, hi));
    }
}

/* ---- Adam / AdamW ---- */

/* The per-call constants, in the element precision. */
typedef struct {
    NNF_T decay;        /* p *= decay first: 1 − lr·wd (AdamW) or exactly 1 */
    NNF_T wd;           /* coupled weight decay added to the gradient (Adam), used if has_wd */
    NNF_T lerp_w;       /* m += lerp_w·(g − m) from m (small weight) or from g (else), as torch */
    NNF_T beta_2, one_minus_beta_2;
    NNF_T inv_bc2_sqrt; /* 1 / √(1 − β2^step) */
    NNF_T eps;
    NNF_T step_size;    /* lr / (1 − β1^step) */
    int has_wd, lerp_from_m;
} NNF_FN(nnf_adam_coef);

NNF_CLONES static void NNF_FN(adam_chunk)(NNF_T *NNF_RESTRICT p, const NNF_T *NNF_RESTRICT g,
                                         NNF_T *NNF_RESTRICT m, NNF_T *NNF_RESTRICT v,
                                         const NNF_FN(nnf_adam_coef) *c, size_t lo, size_t hi)
{
    const NNF_T decay = c->decay, wd = c->wd, w = c->lerp_w, b2 = c->beta_2;
    const NNF_T omb2 = c->one_minus_beta_2, ibc2 = c->inv_bc2_sqrt, eps = c->eps;
    const NNF_T step_size = c->step_size;
    const int has_wd = c->has_wd, from_m = c->lerp_from_m;
    for (size_t i = lo; i < hi; i++) {
        NNF_T pi = p[i];
        NNF_T gi = has_wd ? g[i] + wd * pi : g[i];
        NNF_T mi = m[i];
        mi = NNF_FLUSH((from_m ? mi : gi) + w * (gi - mi));
        NNF_T vi = NNF_FLUSH(b2 * v[i] + omb2 * (gi * gi));
        m[i] = mi;
        v[i] = vi;
        p[i] = pi * decay - step_size * mi / (NNF_SQRT(vi) * ibc2 + eps);
    }
}

void NNF_FN(nnf_adam_update)(size_t n, NNF_T *NNF_RESTRICT param, const NNF_T *NNF_RESTRICT grad,
                             NNF_T *NNF_RESTRICT m, NNF_T *NNF_RESTRICT v, long long step,
                             double learning_rate, double beta_1, double beta_2, double epsilon,
                             double weight_decay, int decoupled, int nthreads)
{
    const double bc1 = 1.0 - pow(beta_1, (double)step);
    const double bc2 = 1.0 - pow(beta_2, (double)step);
    const double w = 1.0 - beta_1;
    NNF_FN(nnf_adam_coef) c;
    c.decay = decoupled ? (NNF_T)(1.0 - learning_rate * weight_decay) : (NNF_T)1;
    c.has_wd = !decoupled && weight_decay != 0.0;
    c.wd = (NNF_T)weight_decay;
    /* torch's lerp: self + w·(end − self) when |w| < 0.5, else end − (end − self)·(1 − w). */
    c.lerp_from_m = fabs((double)(NNF_T)w) < 0.5;
    c.lerp_w = c.lerp_from_m ? (NNF_T)w : -((NNF_T)1 - (NNF_T)w);
    c.beta_2 = (NNF_T)beta_2;
    c.one_minus_beta_2 = (NNF_T)(1.0 - beta_2);
    c.inv_bc2_sqrt = (NNF_T)(1.0 / sqrt(bc2));
    c.eps = (NNF_T)epsilon;
    c.step_size = (NNF_T)(learning_rate / bc1);
    NNF_UPDATE_CHUNKS(n, NNF_OPTIM_COST_ADAM, nthreads,
        NNF_FN(adam_chunk)(param, grad, m, v, &c, lo, hi));
}

/* ---- norms, scaling, clipping ---- */

/* Σ x² over [lo, hi) in double, in NNF_NORM_LANES independent lanes (vector accumulators). */
NNF_CLONES static double NNF_FN(sum_squares_lanes)(const NNF_T *NNF_RESTRICT x, size_t lo, size_t hi)
{
    double acc[NNF_NORM_LANES] = {0.0};
    size_t i = lo;
    for (; i + NNF_NORM_LANES <= hi; i += NNF_NORM_LANES)
        for (int j = 0; j < NNF_NORM_LANES; j++) {
            double xj = (double)x[i + j];
            acc[j] += xj * xj;
        }
    double s = 0.0;
    for (; i < hi; i++)
        s += (double)x[i] * (double)x[i];
    for (int j = 0; j < NNF_NORM_LANES; j++) /* a plain walk: a tree here stops GCC vectorising */
        s += acc[j];
    return s;
}

/* Σ |x| over [lo, hi) in double, lanes as in sum_squares_lanes. */
NNF_CLONES static double NNF_FN(sum_abs_lanes)(const NNF_T *NNF_RESTRICT x, size_t lo, size_t hi)
{
    double acc[NNF_NORM_LANES] = {0.0};
    size_t i = lo;
    for (; i + NNF_NORM_LANES <= hi; i += NNF_NORM_LANES)
        for (int j = 0; j < NNF_NORM_LANES; j++)
            acc[j] += fabs((double)x[i + j]);
    double s = 0.0;
    for (; i < hi; i++)
        s += fabs((double)x[i]);
    for (int j = 0; j < NNF_NORM_LANES; j++)
        s += acc[j];
    return s;
}

/* Σ x² (squares) or Σ |x| over [lo, hi): the lanes above, in float32 where their x86-64-v3
 * clones would run through sum_f32_avx2's two instances instead (the same bits). */
static double NNF_FN(sum_chunk)(const NNF_T *NNF_RESTRICT x, size_t lo, size_t hi, int squares)
{
#if NNF_HAVE_CLONES && NNF_OPTIM_F32
    if (nnf_clone_level() == 3)
        return squares ? sum_squares_f32_avx2(x, lo, hi) : sum_abs_f32_avx2(x, lo, hi);
#endif
    return squares ? NNF_FN(sum_squares_lanes)(x, lo, hi) : NNF_FN(sum_abs_lanes)(x, lo, hi);
}

static double NNF_FN(sum_squares_chunk)(const NNF_T *NNF_RESTRICT x, size_t lo, size_t hi)
{
    return NNF_FN(sum_chunk)(x, lo, hi, 1);
}

static double NNF_FN(sum_abs_chunk)(const NNF_T *NNF_RESTRICT x, size_t lo, size_t hi)
{
    return NNF_FN(sum_chunk)(x, lo, hi, 0);
}

/* Σ chunk(x, block) over the blocks of x (nnf_norm_block), blocks in parallel, summed in order:
 * the result depends on n only, not on the thread count. */
static double NNF_FN(blocked_sum)(size_t n, const NNF_T *NNF_RESTRICT x, int nthreads,
                                  double (*chunk)(const NNF_T *NNF_RESTRICT, size_t, size_t))
{
    double part[NNF_NORM_BLOCKS];
    const size_t block = nnf_norm_block(n);
    const size_t nblocks = (n + block - 1) / block;
    /* nnf_chunk hands out multiples of 16 blocks: below 32 blocks one thread would get all. */
    const double cost = nblocks >= 32 ? NNF_OPTIM_COST_NORM * (double)block : 0.0;
    NNF_PARALLEL_CHUNKS(nblocks, cost, nthreads, {
        for (size_t k = lo; k < hi; k++) {
            size_t end = (k + 1) * block < n ? (k + 1) * block : n;
            part[k] = chunk(x, k * block, end);
        }
    });
    double s = 0.0;
    for (size_t k = 0; k < nblocks; k++)
        s += part[k];
    return s;
}

double NNF_FN(nnf_sum_squares)(size_t n, const NNF_T *NNF_RESTRICT x, int nthreads)
{
    return NNF_FN(blocked_sum)(n, x, nthreads, NNF_FN(sum_squares_chunk));
}

double NNF_FN(nnf_sum_abs)(size_t n, const NNF_T *NNF_RESTRICT x, int nthreads)
{
    return NNF_FN(blocked_sum)(n, x, nthreads, NNF_FN(sum_abs_chunk));
}

/* Tasks [lo, hi) of nnf_sum_squares_many: (array, block) pairs numbered array after array. */
static void NNF_FN(sum_squares_tasks)(const NNF_T *const *xs, const size_t *ns, double *scratch,
                                      size_t lo, size_t hi)
{
    size_t k = 0, first = 0; /* array k owns tasks [first, first + nb) */
    size_t block = nnf_norm_block(ns[0]), nb = (ns[0] + block - 1) / block;
    for (size_t t = lo; t < hi; t++) {
        while (t >= first + nb) {
            first += nb;
            k++;
            block = nnf_norm_block(ns[k]);
            nb = (ns[k] + block - 1) / block;
        }
        size_t b = t - first;
        size_t end = (b + 1) * block < ns[k] ? (b + 1) * block : ns[k];
        scratch[t] = NNF_FN(sum_squares_chunk)(xs[k], b * block, end);
    }
}

void NNF_FN(nnf_sum_squares_many)(size_t count, const NNF_T *const *xs, const size_t *ns,
                                  double *sums, double *scratch, int nthreads)
{
    size_t tasks = 0, elements = 0;
    for (size_t k = 0; k < count; k++) {
        tasks += (ns[k] + nnf_norm_block(ns[k]) - 1) / nnf_norm_block(ns[k]);
        elements += ns[k];
    }
    const double per_task = tasks ? (double)elements / (double)tasks : 0.0;
    /* nnf_chunk hands out multiples of 16 tasks: below 32 tasks one thread would get all. */
    const double cost = tasks >= 32 ? NNF_OPTIM_COST_NORM * per_task : 0.0;
    NNF_PARALLEL_CHUNKS(tasks, cost, nthreads,
                        NNF_FN(sum_squares_tasks)(xs, ns, scratch, lo, hi));
    size_t t = 0;
    for (size_t k = 0; k < count; k++) {
        size_t block = nnf_norm_block(ns[k]), nb = (ns[k] + block - 1) / block;
        double s = 0.0;
        for (size_t b = 0; b < nb; b++)
            s += scratch[t++];
        sums[k] = s;
    }
}

NNF_CLONES static void NNF_FN(scale_chunk)(NNF_T *NNF_RESTRICT x, NNF_T alpha, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        x[i] = alpha * x[i];
}

void NNF_FN(nnf_scale)(size_t n, NNF_T *NNF_RESTRICT x, double alpha, int nthreads)
{
    const NNF_T a = (NNF_T)alpha;
    NNF_PARALLEL_CHUNKS(n, NNF_OPTIM_COST_AXPY, nthreads, NNF_FN(scale_chunk)(x, a, lo, hi));
}

NNF_CLONES static void NNF_FN(scale_add_chunk)(NNF_T *NNF_RESTRICT y, const NNF_T *NNF_RESTRICT x,
                                              NNF_T alpha, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        y[i] = y[i] + alpha * x[i];
}

void NNF_FN(nnf_scale_add)(size_t n, NNF_T *NNF_RESTRICT y, const NNF_T *NNF_RESTRICT x,
                           double alpha, int nthreads)
{
    const NNF_T a = (NNF_T)alpha;
    NNF_PARALLEL_CHUNKS(n, NNF_OPTIM_COST_AXPY, nthreads, NNF_FN(scale_add_chunk)(y, x, a, lo, hi));
}

NNF_CLONES static void NNF_FN(add_sign_chunk)(NNF_T *NNF_RESTRICT y, const NNF_T *NNF_RESTRICT x,
                                             NNF_T alpha, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        const NNF_T xi = x[i];
        const NNF_T sg = xi > 0 ? (NNF_T)1 : (xi < 0 ? (NNF_T)-1 : (xi == xi ? (NNF_T)0 : xi));
        y[i] = y[i] + alpha * sg;
    }
}

void NNF_FN(nnf_add_sign)(size_t n, NNF_T *NNF_RESTRICT y, const NNF_T *NNF_RESTRICT x,
                          double alpha, int nthreads)
{
    const NNF_T a = (NNF_T)alpha;
    NNF_PARALLEL_CHUNKS(n, NNF_OPTIM_COST_AXPY, nthreads, NNF_FN(add_sign_chunk)(y, x, a, lo, hi));
}

NNF_CLONES static void NNF_FN(clip_value_chunk)(NNF_T *NNF_RESTRICT x, NNF_T c, size_t lo, size_t hi)
{
    const NNF_T nc = -c;
    for (size_t i = lo; i < hi; i++) {
        NNF_T xi = x[i];
        xi = c < xi ? c : xi;   /* NaN compares false: stays NaN */
        xi = nc > xi ? nc : xi;
        x[i] = xi;
    }
}

void NNF_FN(nnf_clip_value)(size_t n, NNF_T *NNF_RESTRICT x, double clip_value, int nthreads)
{
    const NNF_T c = (NNF_T)clip_value;
    NNF_PARALLEL_CHUNKS(n, NNF_OPTIM_COST_AXPY, nthreads, NNF_FN(clip_value_chunk)(x, c, lo, hi));
}

#endif /* NNF_OPTIM_TEMPLATE */
