/* nnf_act_math.h -- the float32 math the activation kernels need beyond nnf_math.h:
 * tanh, expm1, erf and the standard normal CDF, branch-free (selects, no calls) so the loops
 * that use them vectorize. float64 kernels use libm instead (see the double helpers at the end).
 *
 * Accuracy (checked against float64 libm over dense grids by tests/kernels/test_activations.py):
 * tanh and expm1 within a few ulp, with full relative accuracy near 0; erf within ~1e-7
 * absolute everywhere and a few ulp relative near 0; the normal CDF with a few ulp of relative
 * accuracy also deep in its lower tail, where 1 + erf(x/sqrt 2) would cancel.
 */
#ifndef NNF_ACT_MATH_H
#define NNF_ACT_MATH_H

#include <math.h>
#include <stdint.h>

#include "nnf_common.h"
#include "nnf_math.h"

/* expm1(x) = exp(x) - 1: a Taylor polynomial for |x| < ln2/2 (where exp(x) - 1 cancels),
 * exp(x) - 1 elsewhere. */
NNF_INLINE float nnf_expm1f(float x)
{
    float p = 1.0f / 5040.0f;                     /* x + x^2/2! + ... + x^7/7!, error < 2e-8 rel */
    p = p * x + 1.0f / 720.0f;
    p = p * x + 1.0f / 120.0f;
    p = p * x + 1.0f / 24.0f;
    p = p * x + 1.0f / 6.0f;
    p = p * x + 0.5f;
    p = p * x * x + x;
    float e = nnf_expf(x) - 1.0f;
    float a = x < 0.0f ? -x : x;
    return a < 0.34657359f ? p : e;
}

/* tanh(x) = sign(x) tanh(|x|): |x| + |x|^3 P(x^2) for |x| < 0.625 (Cephes' minimax polynomial:
 * keeps relative accuracy for tiny x), else 1 - 2 / (exp(2|x|) + 1); 2|x| is clamped at 40
 * (tanh(20) == 1 in float; nan passes). Computed on |x| with x's sign bit put back at the end
 * (-0 stays -0). That keeps the vectorized loop short: measured on AVX-512, one thread, 64K
 * floats in cache, 2.0-2.3 -> 1.3-1.5 cycles a float against the earlier form (both signs and
 * nnf_expf's clamps and two-step scaling in full), whose bits it keeps (exp(2|x|) <= e^40 is
 * in nnf_exp_normalf's range). */
NNF_INLINE float nnf_tanhf(float x)
{
    const uint32_t sign = nnf_f2u(x) & 0x80000000u;
    float a = nnf_u2f(nnf_f2u(x) ^ sign);
    float z = a * a;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    p = p * z * a + a;
    float a2 = a + a;
    a2 = a2 > 40.0f ? 40.0f : a2;
    float r = 1.0f - 2.0f / (nnf_exp_normalf(a2) + 1.0f);
    float y = a < 0.625f ? p : r;
    return nnf_u2f(nnf_f2u(y) | sign);
}

/* exp(a + b) where `a` is exact and large and `b` small: the range reduction subtracts n ln2
 * from `a` exactly (Cody-Waite) before adding `b`, so no rounding of a + b enters the result.
 * The scaling by 2^n is done as 2^(n+64) then 2^-64, so results down into the subnormals round
 * once. Requires -130 < a + b < 40 (the callers bound it). */
NNF_INLINE float nnf_expsumf(float a, float b)
{
    const float magic = 12582912.0f;
    float t = (a + b) * 1.44269504088896341f + magic;
    int32_t n = (int32_t)(nnf_f2u(t) - nnf_f2u(magic));
    float fn = t - magic;
    float r = a - fn * 0.693359375f;               /* exact: a and n ln2_hi are close */
    r = r + b;
    r = r - fn * -2.12194440e-4f;
    return (nnf_exp_poly(r) * nnf_pow2i(n + 64)) * 5.42101086242752217e-20f; /* 2^-64 */
}

/* erfc(z) for 0 <= z <= 10, given z and an exact (s, k) with z^2 = k s^2 (k = 1 or 1/2):
 * t exp(-k s^2 + P(t)), t = 1 / (1 + z/2), P a degree-9 fit of log(erfcx(z) / t) on [0, 10]
 * in w = (t - 7/12) 12/5 (the Numerical Recipes "erfcc" form, refitted: fit error 5e-8,
 * ~2e-7 after float rounding, i.e. a few ulp of relative error for every z). s^2 is split as
 * sh^2 + sl (s + sh) with sh holding 12 significant bits, so k sh^2 is exact and the large
 * exponent carries no rounding error (erfc's condition number grows like z^2: rounding z^2
 * would cost ~100 ulp deep in the tail). erfc(10) = 2e-45 is the least subnormal. */
NNF_INLINE float nnf_erfc_tailf(float z, float s, float k)
{
    float t = 1.0f / (1.0f + 0.5f * z);
    float w = (t - 0.5833333134651184f) * 2.4000000953674316f;
    float p = 5.486022564582527e-05f;
    p = p * w + 7.272874063346535e-05f;
    p = p * w - 0.0005343204829841852f;
    p = p * w - 0.00022596392955165356f;
    p = p * w + 0.003707475960254669f;
    p = p * w - 0.001063408562913537f;
    p = p * w - 0.029470333829522133f;
    p = p * w + 0.0157473087310791f;
    p = p * w + 0.5703070759773254f;
    p = p * w - 0.5585954189300537f;
    float sh = nnf_u2f(nnf_f2u(s) & 0xfffff000u);
    float sl = s - sh;
    return t * nnf_expsumf(-(k * (sh * sh)), p - k * (sl * (s + sh)));
}

/* erf(x) / x = P(x^2) for |x| < 0.921875: a degree-6 fit, relative error 4e-10. */
NNF_INLINE float nnf_erf_smallf(float x)
{
    float z = x * x;
    float p = 8.370089199161157e-05f;
    p = p * z - 0.0008142701699398458f;
    p = p * z + 0.005201031919568777f;
    p = p * z - 0.026859398931264877f;
    p = p * z + 0.11283695697784424f;
    p = p * z - 0.37612634897232056f;
    p = p * z + 1.128379225730896f;
    return p * x;
}

/* erf(x) = 2/sqrt(pi) int_0^x exp(-t^2) dt: the odd polynomial near 0, 1 - erfc(|x|) beyond. */
NNF_INLINE float nnf_erff(float x)
{
    float a = x < 0.0f ? -x : x;
    float s = nnf_erf_smallf(x);
    float z = a > 10.0f ? 10.0f : a;               /* nan passes through */
    float l = 1.0f - nnf_erfc_tailf(z, z, 1.0f);
    l = x < 0.0f ? -l : l;
    return a < 0.921875f ? s : l;
}

/* Phi(x) = P(N(0,1) <= x) = erfc(-x/sqrt 2) / 2 from the erfc formula alone: relatively
 * accurate in the lower tail (no 1 + erf cancellation) and, as 1 - erfc/2, in the upper. */
NNF_INLINE float nnf_normcdff(float x)
{
    float ax = x < 0.0f ? -x : x;
    ax = ax > 14.142135f ? 14.142135f : ax;        /* erfc(10) underflows; nan passes */
    float c = 0.5f * nnf_erfc_tailf(ax * 0.70710678118654752f, ax, 0.5f);
    return x < 0.0f ? c : 1.0f - c;
}

/* log(1 + e) for e in [0, 1] (no special cases, so it vectorizes where nnf_log1pf inside a
 * larger expression does not): u = 1 + e = 2^k m with m in [sqrt(1/2), sqrt 2), log m by
 * Cephes' polynomial in f = m - 1 (exact), plus the rounding error of u, c = e - (u - 1),
 * divided by u: log1p(e) = k ln2 + log(m) + c/u. */
NNF_INLINE float nnf_log1p_unitf(float e)
{
    float u = 1.0f + e;
    float c = e - (u - 1.0f);
    int big = u > 1.41421356f;
    float f = (big ? 0.5f * u : u) - 1.0f;
    float k = big ? 1.0f : 0.0f;
    float z = f * f;
    float y = 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    y = y * f * z;
    y += k * -2.12194440e-4f;
    y += -0.5f * z;
    return (f + y + c / u) + k * 0.693359375f;
}

/* softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), never overflowing. */
NNF_INLINE float nnf_softplus_actf(float x)
{
    float a = x < 0.0f ? -x : x;
    return (x > 0.0f ? x : 0.0f) + nnf_log1p_unitf(nnf_expf(-a));
}

/* float64 twins through libm (accurate to an ulp or so). */
NNF_INLINE double nnf_normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }

#endif /* NNF_ACT_MATH_H */
