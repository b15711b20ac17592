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

# OpenMP worker threads that spin after a parallel kernel steal the cores from BLAS's threads,
# which run next: measured here, a 5-epoch digits fit with BatchNormalization and Dropout took
# 12.2 s with libgomp's default spinning and 0.105 s with passive waiting (0.102 s on one
# thread). Sleeping at once has its own price where waking a vCPU is slow (44-52 us on the
# AMD Zen 5 VM): libgomp's workers first spin a short GOMP_SPINCOUNT (it wins over the wait
# policy). Measured there, 2 threads: back-to-back adam_update on 1M floats 196-240 -> 141-150
# us, MNIST-shaped and 2048-1024-1024 fits (plan and per-layer) unchanged within noise; 3000
# spins gained a little more (119-127 us) but cost the per-layer wide fit ~5%. Set before our
# extensions load libgomp; a value the user set (either variable) is kept.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
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
