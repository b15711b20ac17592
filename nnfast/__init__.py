"""nnfast: a small, fast deep-learning framework for the CPU.

>>> import nnfast as nf
>>> nf.get_num_threads() >= 1
True
>>> model = nf.Sequential([nf.layers.Dense(10, activation="softmax")], input_dim=4, seed=0)
>>> model.count_params()
50
"""

__version__ = "0.1.0"

from nnfast import _openmp_env  # noqa: F401  (first: before any extension loads libgomp)

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
