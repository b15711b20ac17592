/* nnf_common.h -- what every nnfast C kernel shares.
 *
 *  - An OpenMP shim: the kernels build (serially) without OpenMP.
 *  - NNF_RESTRICT, NNF_INLINE.
 *  - NNF_CLONES: compile a hot loop for several x86-64 instruction sets (baseline, Haswell
 *    AVX2+FMA, AVX-512) and pick one at load time (GCC ifunc).  Portable wheels keep their speed.
 *  - nnf_team_size / nnf_chunk: how many threads a loop gets, and which part of it each one
 *    does.  Small loops run on the calling thread: waking a team costs microseconds.
 *
 * Thread counts are always passed in explicitly (`nthreads`), never read from OpenMP's
 * per-thread ICVs, so every Python thread sees the count set by nnfast.set_num_threads.
 */
#ifndef NNF_COMMON_H
#define NNF_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(NNF_HAVE_OPENMP) && defined(_OPENMP)
#include <omp.h>
#define NNF_OPENMP 1
#else
#define NNF_OPENMP 0
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_procs(void) { return 1; }
#endif

#if defined(_MSC_VER)
#define NNF_RESTRICT __restrict
#define NNF_INLINE static __inline
#else
#define NNF_RESTRICT restrict
#define NNF_INLINE static inline
#endif
/* For helpers that must inline for the loops calling them to vectorize. */
#if defined(__GNUC__)
#define NNF_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define NNF_ALWAYS_INLINE NNF_INLINE
#endif

/* A pragma inside a macro (MSVC spells it differently). */
#if defined(_MSC_VER)
#define NNF_PRAGMA(x) __pragma(x)
#else
#define NNF_PRAGMA(x) _Pragma(#x)
#endif

/* A read prefetch hint for the cache line at p (a no-op where the compiler has no builtin). */
#if defined(__GNUC__) || defined(__clang__)
#define NNF_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define NNF_PREFETCH(p) ((void)(p))
#endif

/* Multi-ISA clones of a function (GCC >= 11 on x86-64 Linux/glibc; elsewhere a plain function).
 * The clones are the x86-64 micro-architecture levels, which GCC's ifunc resolver selects by CPU
 * *features* (v3 = AVX2+FMA+BMI2, v4 = AVX-512). "arch=haswell" would be selected by CPU *model*
 * and so never on AMD or newer Intel parts (measured: SSE2 code on an AMD EPYC, 2-3x slower). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) \
    && defined(__linux__) && !defined(NNF_NO_CLONES) && !defined(__SANITIZE_ADDRESS__)
#define NNF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define NNF_HAVE_CLONES 1
#else
#define NNF_CLONES
#define NNF_HAVE_CLONES 0
#endif

/* Work (elements x relative cost, 1 = a relu element, ~0.08 ns) below which a loop stays on
 * the calling thread. Under nnfast's OMP_WAIT_POLICY=PASSIVE every parallel region wakes
 * sleeping threads, and what that costs depends on the machine: ~70 us on the 2-vCPU VMs here
 * (a fused bias + relu over 32,768 floats: 3.6 us on one thread, 70 us on two), a few us on
 * bare metal. So the threshold is measured: nnfast/_threads.py times an empty region at
 * import and exports NNFAST_PAR_MIN_WORK, read once per file here; NNF_PAR_MIN_WORK is the
 * floor and the value without it. */
#ifndef NNF_PAR_MIN_WORK
#define NNF_PAR_MIN_WORK 32768
#endif

#if defined(__GNUC__)
NNF_INLINE double nnf_par_min_work(void)
{
    static long long cached = 0; /* 0: not read yet; every thread would store the same value */
    long long v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v == 0) {
        const char *s = getenv("NNFAST_PAR_MIN_WORK");
        v = s != NULL ? atoll(s) : 0;
        if (v < NNF_PAR_MIN_WORK)
            v = NNF_PAR_MIN_WORK;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return (double)v;
}
#else
NNF_INLINE double nnf_par_min_work(void) { return (double)NNF_PAR_MIN_WORK; }
#endif

/* Threads for a loop of `work` units: 1 when small, else at most `nthreads`,
 * and never so many that a thread gets less than half the threshold. */
NNF_INLINE int nnf_team_size(double work, int nthreads)
{
    if (!NNF_OPENMP || nthreads <= 1)
        return 1;
    const double min_work = nnf_par_min_work();
    if (work < min_work)
        return 1;
    double most = work / (0.5 * min_work);
    return most < (double)nthreads ? (int)most : nthreads;
}

/* Split [0, n) into `nt` contiguous chunks (multiples of 16 elements, so each thread starts on
 * a cache-line boundary of an aligned array); thread `t` gets [*lo, *hi). */
NNF_INLINE void nnf_chunk(size_t n, int t, int nt, size_t *lo, size_t *hi)
{
    size_t per = (n + (size_t)nt - 1) / (size_t)nt;
    per = (per + 15) & ~(size_t)15;
    size_t a = per * (size_t)t, b = a + per;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* Flush-to-zero and denormals-are-zero on the calling thread for the span of one loop, the
 * previous floating-point mode restored after it (nnf_fp_flush_begin / _end; a no-op where the
 * mode register is not reachable). The optimizer updates use it: a weight whose gradient has
 * gone to 0 has its first moment decay through [FLT_MIN, ~1e3·FLT_MIN] for dozens of steps,
 * where lr·m/(√v + ε) is a subnormal result, and every vector instruction producing or reading
 * one takes a microcode assist (measured: Adam over 117,760 floats with 0.5% of m at 1e-36,
 * 168 against 93 us; the 784-256-128-10 fit at batch 32, 300 against 100 us of update per step).
 * What changes is below the smallest normal number: an update term that would be subnormal
 * is 0, as is a subnormal input. The process's own mode is never changed (that is what
 * -ffast-math's crtfastmath.o does, and why nnfast is never built with it). */
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <xmmintrin.h>
#define NNF_FP_FLUSH_BITS 0x8040u /* MXCSR FTZ (bit 15) | DAZ (bit 6) */
typedef unsigned int nnf_fp_mode;
NNF_INLINE nnf_fp_mode nnf_fp_flush_begin(void)
{
    const unsigned int mode = _mm_getcsr();
    if ((mode & NNF_FP_FLUSH_BITS) != NNF_FP_FLUSH_BITS)
        _mm_setcsr(mode | NNF_FP_FLUSH_BITS);
    return mode;
}
NNF_INLINE void nnf_fp_flush_end(nnf_fp_mode mode)
{
    if ((mode & NNF_FP_FLUSH_BITS) != NNF_FP_FLUSH_BITS)
        _mm_setcsr(mode);
}
#else
typedef int nnf_fp_mode;
NNF_INLINE nnf_fp_mode nnf_fp_flush_begin(void) { return 0; }
NNF_INLINE void nnf_fp_flush_end(nnf_fp_mode mode) { (void)mode; }
#endif

/* A spinning barrier for the threads of one parallel region. OpenMP's own barrier sleeps in the
 * kernel under OMP_WAIT_POLICY=PASSIVE (nnfast's default, so that its pool never fights the
 * BLAS pool), and one futex wake-up measured 20-60 us on the 2-core VMs here: more than a whole
 * GEMM of a batch-32 step. Inside a region every thread is busy, so a short spin is cheap;
 * after NNF_SPIN_LIMIT rounds a waiter yields the core (an oversubscribed machine).
 * Zero-initialise it, share it among the team, and pass the team size to every wait. */
typedef struct {
    int arrived;
    int generation;
} nnf_spin_barrier;

#ifndef NNF_SPIN_LIMIT
#define NNF_SPIN_LIMIT 4000
#endif

#if defined(__GNUC__) && (defined(__linux__) || defined(__APPLE__))
#include <sched.h>
#if defined(__x86_64__) || defined(__i386__)
#define NNF_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define NNF_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define NNF_CPU_RELAX() ((void)0)
#endif
NNF_INLINE void nnf_barrier_wait(nnf_spin_barrier *b, int nthreads)
{
    if (nthreads <= 1)
        return;
    const int gen = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) == nthreads) {
        __atomic_store_n(&b->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->generation, gen + 1, __ATOMIC_RELEASE);
        return;
    }
    unsigned spins = 0;
    while (__atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == gen) {
        if (spins < NNF_SPIN_LIMIT) {
            spins++;
            NNF_CPU_RELAX();
        } else {
            sched_yield();
        }
    }
}
#else
NNF_INLINE void nnf_barrier_wait(nnf_spin_barrier *b, int nthreads)
{
    (void)b;
    if (nthreads > 1) {
        NNF_PRAGMA(omp barrier)
    }
}
#endif

/* The end of an element-wise team's region: when the team has a processor for each thread
 * (omp_get_num_procs, read once: libgomp asks the kernel for the affinity mask each call), its
 * threads meet at the spinning barrier `done` (zero-initialised, shared) first. At libgomp's
 * own end barrier a thread that waits past its short GOMP_SPINCOUNT spin (~10-20 us here)
 * sleeps, and waking it costs 50-80 us on the 2-vCPU VMs (measured), so a halves-imbalance of
 * a few percent cost 1M-float adam_update a fifth of its time: two threads, back to back,
 * 440-470 -> 355-365 us with the spin (C harness without it, threads held spinning: 306-340
 * us). With more threads than processors the spinning delays the threads still at work (8
 * threads on 2 vCPUs: adam_update 1M 459-482 -> 532-651 us), so an oversubscribed team keeps
 * libgomp's barrier alone. */
#if defined(__GNUC__)
NNF_INLINE void nnf_team_done(nnf_spin_barrier *done, int nthreads)
{
    static int procs = 0; /* 0: not read yet; every thread would store the same value */
    int p = __atomic_load_n(&procs, __ATOMIC_RELAXED);
    if (p == 0) {
        p = omp_get_num_procs();
        __atomic_store_n(&procs, p, __ATOMIC_RELAXED);
    }
    if (nthreads <= p)
        nnf_barrier_wait(done, nthreads);
}
#else /* nnf_barrier_wait is OpenMP's own barrier there: nothing spins */
NNF_INLINE void nnf_team_done(nnf_spin_barrier *done, int nthreads)
{
    nnf_barrier_wait(done, nthreads);
}
#endif

/* Run `body(lo, hi)` over [0, n) on a team sized by nnf_team_size(n * cost, nthreads), ending
 * at nnf_team_done. */
#define NNF_PARALLEL_CHUNKS(n, cost, nthreads, body)                                      \
    do {                                                                                  \
        size_t nnf_n_ = (size_t)(n);                                                      \
        int nnf_nt_ = nnf_team_size((double)nnf_n_ * (double)(cost), (nthreads));         \
        if (nnf_nt_ <= 1) {                                                               \
            size_t lo = 0, hi = nnf_n_;                                                   \
            body;                                                                         \
        } else {                                                                          \
            nnf_spin_barrier nnf_done_ = {0, 0};                                          \
            NNF_PRAGMA(omp parallel num_threads(nnf_nt_))                                  \
            {                                                                             \
                size_t lo, hi;                                                            \
                const int nnf_team_ = omp_get_num_threads();                              \
                nnf_chunk(nnf_n_, omp_get_thread_num(), nnf_team_, &lo, &hi);             \
                if (lo < hi) { body; }                                                    \
                nnf_team_done(&nnf_done_, nnf_team_);                                     \
            }                                                                             \
        }                                                                                 \
    } while (0)

/* The x86-64 level whose NNF_CLONES clone runs on this CPU: 4, 3, or 0 for the baseline (and
 * 0 where nothing is cloned), by the test GCC's ifunc resolver makes. A hand-written kernel that
 * replaces one clone checks this, so that it runs exactly where that clone would. */
NNF_INLINE int nnf_clone_level(void)
{
#if NNF_HAVE_CLONES
    static int cached = -1; /* a benign race: every thread stores the same value */
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("x86-64-v4")   ? 4
                 : __builtin_cpu_supports("x86-64-v3") ? 3
                                                       : 0;
    }
    return cached;
#else
    return 0;
#endif
}

/* Which instruction set the cloned kernels run with on this CPU (for `nnfast info`). */
NNF_INLINE const char *nnf_isa_selected(void)
{
#if NNF_HAVE_CLONES
    switch (nnf_clone_level()) {
    case 4:
        return "x86-64-v4 (AVX-512)";
    case 3:
        return "x86-64-v3 (AVX2+FMA)";
    default:
        return "x86-64 baseline (SSE2)";
    }
#else
    return "compiler default (no runtime dispatch)";
#endif
}

#endif /* NNF_COMMON_H */
