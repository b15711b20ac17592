/* nnf_check.c -- see nnf_check.h.
 *
 * A value is NaN or infinite exactly when its exponent bits are all ones, so the largest
 * masked exponent of a block tells whether the block holds one. Blocks of NNF_CHECK_BLOCK
 * values (an early exit between them) keep the inner loop a plain max reduction, which GCC
 * vectorises. The bits are read through memcpy (no type punning through pointers).
 */
#include "nnf_check.h"

#include <stdint.h>
#include <string.h>

#include "nnf_common.h"

#define NNF_CHECK_BLOCK 4096
#define NNF_CHECK_COST 1.0 /* work units per value (nnf_team_size): one read stream, as the norm's */

/* 1 when x[lo, hi) (values of type T, bits read as U) has no exponent of all ones. */
#define NNF_FINITE_CHUNK(name, T, U, EXPONENT)                                               \
    NNF_CLONES static int name(const T *NNF_RESTRICT x, size_t lo, size_t hi)                 \
    {                                                                                        \
        for (size_t b = lo; b < hi; b += NNF_CHECK_BLOCK) {                                  \
            const size_t e = hi - b < NNF_CHECK_BLOCK ? hi : b + NNF_CHECK_BLOCK;            \
            U most = 0;                                                                      \
            for (size_t i = b; i < e; i++) {                                                 \
                U u;                                                                         \
                memcpy(&u, x + i, sizeof u);                                                 \
                u &= (EXPONENT);                                                             \
                most = u > most ? u : most;                                                  \
            }                                                                                \
            if (most == (EXPONENT))                                                          \
                return 0;                                                                    \
        }                                                                                    \
        return 1;                                                                            \
    }

NNF_FINITE_CHUNK(finite_chunk_f32, float, uint32_t, 0x7f800000u)
NNF_FINITE_CHUNK(finite_chunk_f64, double, uint64_t, 0x7ff0000000000000ull)

#define NNF_ALL_FINITE(chunk)                                                                \
    do {                                                                                     \
        const int nt = nnf_team_size((double)n * NNF_CHECK_COST, nthreads);                   \
        if (nt <= 1)                                                                         \
            return chunk(x, 0, n);                                                           \
        int ok = 1;                                                                          \
        nnf_spin_barrier done = {0, 0}; /* nnf_team_done: no sleep at the end */             \
        NNF_PRAGMA(omp parallel num_threads(nt) reduction(&& : ok))                          \
        {                                                                                    \
            size_t lo, hi;                                                                   \
            const int team = omp_get_num_threads();                                          \
            nnf_chunk(n, omp_get_thread_num(), team, &lo, &hi);                              \
            ok = lo >= hi || chunk(x, lo, hi);                                               \
            nnf_team_done(&done, team);                                                      \
        }                                                                                    \
        return ok;                                                                           \
    } while (0)

int nnf_all_finite_f32(const float *x, size_t n, int nthreads) { NNF_ALL_FINITE(finite_chunk_f32); }

int nnf_all_finite_f64(const double *x, size_t n, int nthreads) { NNF_ALL_FINITE(finite_chunk_f64); }

/* Blocks with an early exit between them, as the finite check; the count of values inside
 * [lo, hi] (comparisons false for NaN) is a plain sum GCC vectorises. */
#define NNF_ALL_WITHIN(name, T)                                                               \
    NNF_CLONES int name(const T *NNF_RESTRICT x, size_t n, T lo, T hi)                        \
    {                                                                                        \
        for (size_t b = 0; b < n; b += NNF_CHECK_BLOCK) {                                    \
            const size_t e = n - b < NNF_CHECK_BLOCK ? n : b + NNF_CHECK_BLOCK;              \
            size_t inside = 0;                                                               \
            for (size_t i = b; i < e; i++)                                                   \
                inside += (x[i] >= lo) & (x[i] <= hi);                                       \
            if (inside != e - b)                                                             \
                return 0;                                                                    \
        }                                                                                    \
        return 1;                                                                            \
    }

NNF_ALL_WITHIN(nnf_all_within_f32, float)
NNF_ALL_WITHIN(nnf_all_within_f64, double)
