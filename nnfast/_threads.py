"""The one owner of nnfast's thread count: OpenMP kernels and the BLAS pool follow it.

The count is a plain module global passed explicitly to every kernel, not OpenMP's per-thread
setting, so a kernel called from any Python thread uses the same count.
"""

import os

from nnfast._kernels import threads as _compiled

_num_threads = None


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if _compiled.openmp_enabled():
        return max(1, _compiled.openmp_max_threads())
    return 1


def num_threads():
    """The thread count the kernels use now (fast: called on every kernel launch)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    return _num_threads


def set_num_threads(n):
    """Use ``n`` threads in nnfast's OpenMP kernels and in the BLAS library behind them.

    Parameters
    ----------
    n : int
        Threads, at least 1. Without OpenMP the kernels stay serial whatever ``n`` is.

    Examples
    --------
    >>> import nnfast as nf
    >>> nf.set_num_threads(1); nf.get_num_threads()
    1
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: expected n to be an int, received n={n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected n >= 1, received n={n}")
    _num_threads = n
    _limit_blas(n)
    from nnfast import _blas

    _blas.set_threads(n)


def get_num_threads():
    """The thread count set by :func:`set_num_threads` (default: OMP_NUM_THREADS or the cores)."""
    return num_threads()


def _limit_blas(n):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own setting
        return
    threadpool_limits(limits=n, user_api="blas")


def blas_info():
    """threadpoolctl's description of the BLAS libraries loaded (empty without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import scipy.linalg  # noqa: F401  (make sure SciPy's BLAS is loaded)

    return [i for i in threadpool_info() if i.get("user_api") == "blas"]
