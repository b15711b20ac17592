"""What the compiled kernels were built with: OpenMP on/off, the ISA clones in use, the flags."""

cdef extern from *:
    """
    #ifndef NNF_BUILD_FLAGS
    #define NNF_BUILD_FLAGS "not recorded"
    #endif
    """
    const char *NNF_BUILD_FLAGS

cdef extern from *:
    """
    #include <time.h>
    #include "nnf_common.h"

    /* Median nanoseconds of `repeats` empty parallel regions of `nthreads` threads, each after
     * a 1 ms pause (the team's threads asleep, past nnfast's short GOMP_SPINCOUNT spin, as
     * after any idle stretch), after one region that starts the team: what waking the team
     * costs an OpenMP kernel. 0 without OpenMP. */
    static double nnf_region_cost_ns(int nthreads, int repeats)
    {
    #if NNF_OPENMP
        double t[64];
        if (repeats > 64)
            repeats = 64;
        if (repeats < 1 || nthreads < 2)
            return 0.0;
        NNF_PRAGMA(omp parallel num_threads(nthreads))
        { (void)omp_get_thread_num(); }
        for (int r = 0; r < repeats; r++) {
            struct timespec a, b, pause = {0, 1000000};
            nanosleep(&pause, NULL);
            clock_gettime(CLOCK_MONOTONIC, &a);
            NNF_PRAGMA(omp parallel num_threads(nthreads))
            { (void)omp_get_thread_num(); }
            clock_gettime(CLOCK_MONOTONIC, &b);
            t[r] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
        }
        for (int i = 1; i < repeats; i++) /* insertion sort: a handful of values */
            for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
                double x = t[j]; t[j] = t[j - 1]; t[j - 1] = x;
            }
        return t[repeats / 2];
    #else
        (void)nthreads;
        (void)repeats;
        return 0.0;
    #endif
    }
    """
    double nnf_region_cost_ns(int nthreads, int repeats) nogil


cdef extern from "nnf_common.h":
    int NNF_OPENMP
    int NNF_HAVE_CLONES
    const char *nnf_isa_selected()
    int omp_get_max_threads() nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(NNF_OPENMP)


def openmp_max_threads():
    """OpenMP's default team size (OMP_NUM_THREADS or the core count); 1 without OpenMP."""
    return omp_get_max_threads()


def region_cost_ns(int nthreads, int repeats=9):
    """Median ns of an empty OpenMP parallel region of ``nthreads`` (its wake-up cost)."""
    cdef double cost
    with nogil:
        cost = nnf_region_cost_ns(nthreads, repeats)
    return cost


def isa_selected():
    """The instruction set the multi-versioned kernels dispatched to on this CPU."""
    return nnf_isa_selected().decode()


def has_isa_clones():
    """True when hot loops were compiled for several ISAs with run-time dispatch."""
    return bool(NNF_HAVE_CLONES)


def build_flags():
    """The compiler flags setup.py added to every extension (GCC/clang builds record them)."""
    return NNF_BUILD_FLAGS.decode()
