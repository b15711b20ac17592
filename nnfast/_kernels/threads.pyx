"""What the compiled kernels were built with: OpenMP on/off, the ISA clones in use, the flags."""

cdef extern from *:
    """
    #ifndef NNF_BUILD_FLAGS
    #define NNF_BUILD_FLAGS "not recorded"
    #endif
    """
    const char *NNF_BUILD_FLAGS

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


def isa_selected():
    """The instruction set the multi-versioned kernels dispatched to on this CPU."""
    return nnf_isa_selected().decode()


def has_isa_clones():
    """True when hot loops were compiled for several ISAs with run-time dispatch."""
    return bool(NNF_HAVE_CLONES)


def build_flags():
    """The compiler flags setup.py added to every extension (GCC/clang builds record them)."""
    return NNF_BUILD_FLAGS.decode()
