"""Which BLAS the GEMMs use: NumPy's own OpenBLAS when its wheel carries one, else SciPy's.

NumPy's and SciPy's wheels each bundle an OpenBLAS; NumPy's is built for 64-bit ints and exports
``scipy_sgemm_64_``/``scipy_dgemm_64_``. On the GEMM shapes of a training step it measured
faster here (784-256-128-10, one thread: 1.16x at batch 32 and 128, 1.03x at 512; OpenBLAS
0.3.31 against SciPy's 0.3.30), so nnfast routes every GEMM (``nnfast.kernels.matmul``, the
layers and the compiled plan alike, so all paths give the same bits) to it when it is found,
once, at import. ``NNFAST_BLAS=scipy`` keeps SciPy's ``cython_blas``. Any other NumPy build
(MKL, a system BLAS) keeps SciPy's.

On a CPU with AVX-512, float32 GEMMs of at least 8 rows and 24 columns (and a million
multiply-adds unless B is transposed) that run on one thread run in nnfast's own GEMM
(``csrc/nnf_sgemm.c``; ``nnf_sgemm_takes`` is the rule) instead, the rest in that BLAS. On a
CPU with AVX2 + FMA but no AVX-512 the own GEMM's AVX2 kernel is opt-in (``NNFAST_GEMM=avx2``):
on AMD Zen 3, one thread, it ran at 0.56-0.95x OpenBLAS's speed (benchmarks/README.md).
``NNFAST_GEMM=blas`` sends every GEMM to the BLAS (to compare the two).
"""

import ctypes
import glob
import os

from nnfast import _threads

__all__ = ["select", "in_use", "own_sgemm", "own_sgemm_available", "own_sgemm_isa", "set_threads"]

_IN_USE = "scipy"
_OWN_SGEMM = False
_SYMBOLS = ("scipy_sgemm_64_", "scipy_dgemm_64_")


def _numpy_openblas():
    """Path of the OpenBLAS that NumPy's wheel ships (Linux/Windows: numpy.libs beside the
    package; macOS: numpy/.dylibs), or None."""
    import numpy

    root = os.path.dirname(os.path.abspath(numpy.__file__))
    patterns = [os.path.join(root, os.pardir, "numpy.libs", "libscipy_openblas64_*"),
                os.path.join(root, ".dylibs", "libscipy_openblas64_*")]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return os.path.normpath(found[0])
    return None


def _gemm64_addresses():
    """``(sgemm address, dgemm address, library path)`` of NumPy's ILP64 OpenBLAS, or None."""
    path = _numpy_openblas()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        addresses = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in _SYMBOLS]
    except (OSError, AttributeError):
        return None
    if not all(addresses):
        return None
    return addresses[0], addresses[1], path


def select(own_sgemm=None):
    """Choose the GEMM library (called once by ``import nnfast``); returns :func:`in_use`.

    ``own_sgemm``: whether float32 GEMMs may run in nnfast's own GEMM (None: on an AVX-512
    CPU unless ``NNFAST_GEMM=blas``); benchmarks call it again to compare the two in one
    process. ``NNFAST_GEMM=avx2`` runs the own GEMM's AVX2 kernel, on an AVX2-only CPU too
    (where it is otherwise off) and on an AVX-512 one (tests).
    """
    global _IN_USE, _OWN_SGEMM
    from nnfast._kernels import blas, step

    choice = os.environ.get("NNFAST_BLAS", "").strip().lower()
    gemm = os.environ.get("NNFAST_GEMM", "").strip().lower()
    own = gemm != "blas" if own_sgemm is None else bool(own_sgemm)
    isa = 1 if gemm == "avx2" else -1
    found = None if choice == "scipy" else _gemm64_addresses()
    s_addr, d_addr = (0, 0) if found is None else found[:2]
    _OWN_SGEMM = blas.use_gemm64(s_addr, d_addr, own, isa)
    if _OWN_SGEMM and own_sgemm is None and gemm != "avx2" and blas.own_sgemm_isa() != 2:
        own = False  # the AVX2 kernel by default: slower than OpenBLAS where measured
        _OWN_SGEMM = blas.use_gemm64(s_addr, d_addr, own, isa)
    step.use_gemm64(s_addr, d_addr, own, isa)
    set_threads(_threads.num_threads())
    _IN_USE = "scipy" if found is None else f"numpy ({os.path.basename(found[2])})"
    return _IN_USE


def in_use():
    """``"scipy"`` (SciPy's cython_blas) or ``"numpy (<library file>)"``."""
    return _IN_USE


def own_sgemm():
    """Whether float32 GEMMs run in nnfast's own GEMM (where their shape suits it)."""
    return _OWN_SGEMM


def own_sgemm_available():
    """Whether this build and CPU can run the own GEMM at all (it may still be off)."""
    from nnfast._kernels import blas

    return blas.own_sgemm_available()


def own_sgemm_isa():
    """``"AVX-512"`` or ``"AVX2"``: the own GEMM's kernel; None when it is off."""
    from nnfast._kernels import blas

    if not _OWN_SGEMM:
        return None
    return {2: "AVX-512", 1: "AVX2"}.get(blas.own_sgemm_isa())


def set_threads(n):
    """Let nnfast's own GEMM use ``n`` threads (called by ``nnfast.set_num_threads``)."""
    from nnfast._kernels import blas, step

    blas.set_gemm_threads(n)
    step.set_gemm_threads(n)


def is_gemm_library(filepath):
    """Whether a threadpoolctl library path is the BLAS the GEMMs call (for thread control)."""
    name = os.path.basename(filepath or "")
    if _IN_USE == "scipy":
        return "scipy" in filepath and "numpy" not in filepath
    return "openblas64" in name
