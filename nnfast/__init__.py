"""nnfast: a small, fast deep-learning framework for the CPU.

>>> import nnfast as nf
>>> nf.get_num_threads() >= 1
True
>>> model = nf.Sequential([nf.layers.Dense(10, activation="softmax")], input_dim=4, seed=0)
>>> model.count_params()
50
"""

__version__ = "0.1.0"

import os as _os


def _openmp_runtime_loaded():
    """Whether an OpenMP runtime is loaded already (another library, e.g. torch, started it)."""
    import ctypes

    for name in ("libgomp.so.1", "libomp.so", "libomp.dylib", "libiomp5.so"):
        try:
            ctypes.CDLL(name, mode=getattr(_os, "RTLD_NOLOAD", 4) | ctypes.RTLD_LOCAL)
            return True
        except OSError:
            continue
    return False


_USER_SET_WAIT = "OMP_WAIT_POLICY" in _os.environ or "GOMP_SPINCOUNT" in _os.environ

# A runtime loaded before us has read its settings already: unless the user set them, its
# workers keep their default wait (torch's libgomp: a spin of ~10 ms after each region), so
# nnfast._threads keeps the element-wise kernels on the calling thread (measured with torch
# imported first: the per-layer fit of 784-256-128-10 at batch 32 took 4.5 s an epoch, not 0.2).
_FOREIGN_OPENMP = not _USER_SET_WAIT and _openmp_runtime_loaded()

# OpenMP worker threads that spin after a parallel kernel steal the cores from BLAS's threads,
# which run next: measured here, a 5-epoch digits fit with BatchNormalization and Dropout took
# 12.2 s with libgomp's default spinning and 0.105 s with passive waiting (0.102 s on one
# thread). Sleeping at once has its own price where waking a vCPU is slow (44-52 us on the
# AMD Zen 5 VM): libgomp's workers first spin a short GOMP_SPINCOUNT (it wins over the wait
# policy). Measured there, 2 threads: back-to-back adam_update on 1M floats 196-240 -> 141-150
# us, MNIST-shaped and 2048-1024-1024 fits (plan and per-layer) unchanged within noise; 3000
# spins gained a little more (119-127 us) but cost the per-layer wide fit ~5%. Set before our
# extensions load libgomp; a value the user set (either variable) is kept.
if not _USER_SET_WAIT:
    _os.environ["GOMP_SPINCOUNT"] = "1000"
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from nnfast._threads import get_num_threads, set_num_threads
except ImportError as exc:  # the compiled kernels are missing: say how to build them
    raise ImportError(
        "nnfast's compiled kernels could not be imported "
        f"({exc}). If you are running from a source checkout, build them first with "
        "`pip install -e .` (or `python setup.py build_ext --inplace`)."
    ) from exc

from nnfast import _blas  # noqa: E402

_blas.select()  # NumPy's OpenBLAS for the GEMMs when its wheel has one (see nnfast._blas)

from nnfast import kernels  # noqa: E402
from nnfast import (  # noqa: E402
    activations, callbacks, initializers, layers, losses, metrics, optimizers, regularizers,
    schedules,
)
from nnfast.model import Sequential  # noqa: E402
from nnfast.saving import load_model  # noqa: E402


def __getattr__(name):
    """Load the front ends that need optional packages (scikit-learn, matplotlib) on first use."""
    if name in ("sklearn", "diagnostics"):
        import importlib

        module = importlib.import_module(f"nnfast.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'nnfast' has no attribute {name!r}")


__all__ = [
    "Sequential", "load_model", "layers", "activations", "losses", "optimizers", "schedules",
    "callbacks", "metrics", "regularizers", "initializers", "kernels", "set_num_threads",
    "get_num_threads", "__version__",
]
