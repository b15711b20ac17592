"""nnfast: a small, fast deep-learning framework for the CPU.

>>> import nnfast as nf
>>> nf.get_num_threads() >= 1
True
"""

__version__ = "0.1.0"

try:
    from nnfast._threads import get_num_threads, set_num_threads
except ImportError as exc:  # the compiled kernels are missing: say how to build them
    raise ImportError(
        "nnfast's compiled kernels could not be imported "
        f"({exc}). If you are running from a source checkout, build them first with "
        "`pip install -e .` (or `python setup.py build_ext --inplace`)."
    ) from exc

from nnfast import kernels  # noqa: E402

__all__ = ["kernels", "set_num_threads", "get_num_threads", "__version__"]
