"""``nnfast info``: version, build flags, OpenMP, the ISA in use, BLAS libraries and threads."""

import os
import platform
import sys

NAME = "info"
HELP = "Show the version, build (OpenMP, ISA dispatch), BLAS in use and thread settings."


def add_arguments(parser):
    pass


def collect():
    """What ``nnfast info`` prints, as a dict (also used by the benchmarks' headers)."""
    import numpy as np
    import scipy

    import nnfast as nf
    from nnfast import _threads
    from nnfast._kernels import threads as compiled

    return {
        "nnfast": nf.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "openmp": "on" if compiled.openmp_enabled() else "off (serial kernels)",
        "build flags": compiled.build_flags(),
        "isa dispatch": "on" if compiled.has_isa_clones() else "off",
        "isa selected": compiled.isa_selected(),
        "gemm": nf._blas.in_use(),
        "own gemm": (f"float32, {nf._blas.own_sgemm_isa()} (csrc/nnf_sgemm.c)"
                     if nf._blas.own_sgemm() else
                     "off (AVX2 CPU: NNFAST_GEMM=avx2 turns it on)" if nf._blas.own_sgemm_available()
                     and os.environ.get("NNFAST_GEMM", "").strip().lower() != "blas"
                     else "off (no AVX2/AVX-512, or NNFAST_GEMM=blas)"),
        "threads": nf.get_num_threads(),
        "parallel": ("element-wise kernels on one thread (an OpenMP runtime was loaded "
                     "before nnfast: import nnfast first, or set OMP_WAIT_POLICY=PASSIVE)"
                     if _threads.foreign_openmp()
                     and _threads.parallel_threshold() >= _threads._SERIAL else
                     f"from {_threads.parallel_threshold():,} work units"
                     + (f" (team wake-up {_threads.region_cost_ns / 1e3:.0f} us)"
                        if _threads.region_cost_ns else "")),
        "blas": [
            f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
            f"{b.get('num_threads')} threads) {b.get('filepath')}"
            for b in _threads.blas_info()
        ],
    }


def run(args):
    for key, value in collect().items():
        if isinstance(value, list):
            print(f"{key + ':':<14}{value[0] if value else 'unknown (threadpoolctl not installed)'}")
            for extra in value[1:]:
                print(f"{'':<14}{extra}")
        else:
            print(f"{key + ':':<14}{value}")
    return 0
