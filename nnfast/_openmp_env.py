"""The OpenMP environment, set before any of nnfast's extensions loads the runtime.

libgomp reads its wait settings once, when it loads; ``nnfast/__init__.py`` imports this
module first. ``FOREIGN`` records that another library had loaded a runtime already.
"""

import os


def _openmp_runtime_loaded():
    """Whether an OpenMP runtime is loaded already (another library, e.g. torch, started it)."""
    import ctypes

    for name in ("libgomp.so.1", "libomp.so", "libomp.dylib", "libiomp5.so"):
        try:
            ctypes.CDLL(name, mode=getattr(os, "RTLD_NOLOAD", 4) | ctypes.RTLD_LOCAL)
            return True
        except OSError:
            continue
    return False


USER_SET = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ

# A runtime loaded before us has read its settings already: unless the user set them, its
# workers keep their default wait (torch's libgomp: a spin of ~10 ms after each region), so
# nnfast._threads keeps the element-wise kernels on the calling thread (measured with torch
# imported first: the per-layer fit of 784-256-128-10 at batch 32 took 4.5 s an epoch, not 0.2).
FOREIGN = not USER_SET and _openmp_runtime_loaded()

# OpenMP worker threads that spin after a parallel kernel steal the cores from BLAS's threads,
# which run next: measured here, a 5-epoch digits fit with BatchNormalization and Dropout took
# 12.2 s with libgomp's default spinning and 0.105 s with passive waiting (0.102 s on one
# thread). Sleeping at once has its own price where waking a vCPU is slow (44-52 us on the
# AMD Zen 5 VM): libgomp's workers first spin a short GOMP_SPINCOUNT (it wins over the wait
# policy). Measured there, 2 threads: back-to-back adam_update on 1M floats 196-240 -> 141-150
# us, MNIST-shaped and 2048-1024-1024 fits (plan and per-layer) unchanged within noise; 3000
# spins gained a little more (119-127 us) but cost the per-layer wide fit ~5%. Set before our
# extensions load libgomp; a value the user set (either variable) is kept.
if not USER_SET:
    os.environ["GOMP_SPINCOUNT"] = "1000"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
