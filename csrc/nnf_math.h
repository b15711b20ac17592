/* nnf_math.h -- branch-free float32 exp/log/log1p that the compiler can vectorize.
 *
 * glibc's expf/logf are accurate but scalar calls: a loop calling them does not vectorize
 * (GCC maps them to SIMD only under -ffast-math, which nnfast never uses). These inline
 * versions use Cephes' range reduction and minimax polynomials, with selects instead of
 * branches, and stay within 3 ulp of the correctly rounded result on their whole domain,
 * including inf, nan, overflow and underflow. float64 kernels call libm (exact to 1 ulp).
 */
#ifndef NNF_MATH_H
#define NNF_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nnf_common.h"

NNF_INLINE uint32_t nnf_f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
NNF_INLINE float nnf_u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* 2**n for integer n in [-126, 127], built from the exponent bits. */
NNF_INLINE float nnf_pow2i(int32_t n) { return nnf_u2f((uint32_t)(n + 127) << 23); }

/* exp(r) for |r| <= ln2/2: Cephes' degree-6 polynomial, the core of every float32 exp here. */
NNF_ALWAYS_INLINE float nnf_exp_poly(float r)
{
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * r * r + r + 1.0f;
}

/* exp(x) = 2**n exp(r): n = round(x / ln2) (the 1.5 * 2**23 trick), r = x - n ln2 in two
 * Cody-Waite steps, |r| <= ln2/2. Returns exp(r) and sets *n; the exp kernels differ only in
 * how they clamp x and scale by 2**n. */
NNF_ALWAYS_INLINE float nnf_exp_reduced(float x, int32_t *n)
{
    const float magic = 12582912.0f; /* 1.5 * 2**23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + magic;
    *n = (int32_t)(nnf_f2u(t) - nnf_f2u(magic));
    float fn = t - magic;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    return nnf_exp_poly(r);
}

/* exp(x) for -87 <= x <= 88 or nan, where exp(x) and 2**n are normal numbers: one scaling by
 * 2**n, exact there, so the same bits as nnf_expf without its clamps and two-step scaling. */
NNF_ALWAYS_INLINE float nnf_exp_normalf(float x)
{
    int32_t n;
    float p = nnf_exp_reduced(x, &n);
    return p * nnf_pow2i(n);
}

/* exp(x), scaled by 2**n in two halves so results down to the subnormals and up to overflow
 * (inf) come out right. */
NNF_INLINE float nnf_expf(float x)
{
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;                 /* nan passes both compares unchanged */
    int32_t n;
    float p = nnf_exp_reduced(xc, &n);
    int32_t h = n >> 1;
    return p * nnf_pow2i(h) * nnf_pow2i(n - h);
}

/* log(x) for x > 0 (x = m 2**e, m in [sqrt(1/2), sqrt(2)), log(m) by Cephes' polynomial);
 * log(0) = -inf, log(x<0) = nan, log(inf) = inf, subnormal inputs handled. */
NNF_INLINE float nnf_logf(float x)
{
    int sub = x < 1.17549435e-38f;                 /* subnormal (or <= 0): rescale by 2**23 */
    float xs = sub ? x * 8388608.0f : x;
    uint32_t u = nnf_f2u(xs);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 126; /* m in [0.5, 1) */
    float m = nnf_u2f((u & 0x007fffffu) | 0x3f000000u);
    int small = m < 0.707106781186547524f;
    e = small ? e - 1 : e;
    m = small ? m + m - 1.0f : m - 1.0f;
    float fe = (float)e - (sub ? 23.0f : 0.0f);
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += fe * -2.12194440e-4f;
    y += -0.5f * z;
    float r = m + y + fe * 0.693359375f;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    r = (x == INFINITY || x != x) ? x + x : r;
    return r;
}

/* log(1 + x) for x >= -1, accurate for tiny x: log(u) * x / (u - 1) with u = 1 + x corrects the
 * rounding of u (Goldberg's trick); when u rounds to 1 the answer is x itself. */
NNF_INLINE float nnf_log1pf(float x)
{
    float u = 1.0f + x;
    float d = u - 1.0f;
    float l = nnf_logf(u);
    float r = d == 0.0f ? x : l * (x / d);
    return u == INFINITY ? INFINITY : r;
}

/* 1 / (1 + exp(-x)), never overflowing: for x < 0 use e / (1 + e) with e = exp(x). */
NNF_INLINE float nnf_sigmoidf(float x)
{
    float e = nnf_expf(x < 0.0f ? x : -x);
    float s = 1.0f / (1.0f + e);
    return x < 0.0f ? e * s : s;
}

NNF_INLINE double nnf_sigmoid(double x)
{
    double e = exp(x < 0.0 ? x : -x);
    double s = 1.0 / (1.0 + e);
    return x < 0.0 ? e * s : s;
}

/* log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)). */
NNF_INLINE float nnf_softplusf(float x)
{
    float a = x < 0.0f ? -x : x;
    return (x > 0.0f ? x : 0.0f) + nnf_log1pf(nnf_expf(-a));
}

NNF_INLINE double nnf_softplus(double x)
{
    return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

#endif /* NNF_MATH_H */
