"""The one owner of nnfast's thread count: OpenMP kernels and the BLAS pool follow it.

The count is a plain module global passed explicitly to every kernel, not OpenMP's per-thread
setting, so a kernel called from any Python thread uses the same count.
"""

import contextlib
import os
import threading

from nnfast import _openmp_env
from nnfast._kernels import threads as _compiled

_num_threads = None
# The most threads set_num_threads takes on a machine of up to 256 cores (above: 4 per core).
# libgomp aborts the process when it cannot create a team's threads (measured: 40,000 here).
MAX_THREADS = 1024

# Below how much work (csrc/nnf_common.h's units: 1 = one relu element, ~0.08 ns) a kernel
# stays on one thread: the loop must outlast the wake-up of the sleeping OpenMP team
# (OMP_WAIT_POLICY=PASSIVE). That wake-up is measured once per process tree, the first time
# more than one thread is in use: ~70-150 us on the 2-vCPU VMs nnfast is developed on when the
# other vCPU is idle (a fused bias + relu over 32,768 floats: 3.6 us on one thread, 70 us on
# two; 262,144 floats: 30 us against 150 us), a few us on bare metal or while another thread
# keeps the core awake (then the floor, 262,144 units, holds). The C kernels read the result
# from NNFAST_PAR_MIN_WORK; a user's own setting wins (floor 32,768).
_UNIT_NS = 0.08
_MEASURED_RANGE = (262_144, 1 << 22)  # 1 << 22: ~0.34 ms of work, a 10M relu stays parallel
_FLOOR = 32_768  # csrc/nnf_common.h's NNF_PAR_MIN_WORK
_PAR_ENV = "NNFAST_PAR_MIN_WORK"
region_cost_ns = None  # the measured wake-up (None: not measured)


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if _compiled.openmp_enabled():
        return max(1, _compiled.openmp_max_threads())
    return 1


# The work units that keep every element-wise kernel on one thread.
_SERIAL = 1 << 62


def foreign_openmp():
    """True when another library loaded the OpenMP runtime before nnfast could set its wait
    policy (``import torch`` first): the element-wise kernels then stay on one thread unless
    NNFAST_PAR_MIN_WORK says otherwise; the training team still runs."""
    return _openmp_env.FOREIGN


def _calibrate_parallel_threshold(nthreads):
    """Export NNFAST_PAR_MIN_WORK from the measured cost of waking a team of ``nthreads``."""
    global region_cost_ns
    if (region_cost_ns is not None or nthreads < 2 or os.environ.get(_PAR_ENV, "").strip()
            or not _compiled.openmp_enabled()):
        return
    if foreign_openmp():
        # Its workers spin after every region, beside the BLAS threads that run next. (Like the
        # measured value, this is exported: a child process inherits it and stays serial.)
        region_cost_ns = 0.0  # decided without measuring
        os.environ[_PAR_ENV] = str(_SERIAL)
        return
    region_cost_ns = _compiled.region_cost_ns(nthreads)
    lo, hi = _MEASURED_RANGE
    os.environ[_PAR_ENV] = str(int(min(max(region_cost_ns / _UNIT_NS, lo), hi)))


def openmp_enabled():
    """True when the kernels were compiled with OpenMP (else every kernel runs serially)."""
    return _compiled.openmp_enabled()


def parallel_threshold():
    """The work below which kernels run on one thread (NNFAST_PAR_MIN_WORK, floor 32,768)."""
    try:
        value = int(os.environ.get(_PAR_ENV, "0"))
    except ValueError:
        value = 0
    return max(value, _FLOOR)


def num_threads():
    """The thread count the kernels use now (fast: called on every kernel launch)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
        _calibrate_parallel_threshold(_num_threads)
    return _num_threads


def set_num_threads(n):
    """Use ``n`` threads in nnfast's OpenMP kernels and in the BLAS library behind them.

    Parameters
    ----------
    n : int
        Threads, from 1 to :data:`MAX_THREADS` (or four per core where that is more). Without
        OpenMP the kernels stay serial whatever ``n`` is.

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
    limit = max(MAX_THREADS, 4 * (os.cpu_count() or 1))
    if not 1 <= n <= limit:
        raise ValueError(f"set_num_threads: expected 1 <= n <= {limit} (this machine has "
                         f"{os.cpu_count()} cores), received n={n}")
    _calibrate_parallel_threshold(n)
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


_BLAS_CONTROLLERS = None


def blas_controllers():
    """threadpoolctl's controllers of the loaded BLAS libraries, made once ([] without
    threadpoolctl): ``(ours, others)``, the library nnfast's GEMMs call and the rest (SciPy's
    own OpenBLAS beside NumPy's, typically). When none is recognised as ours, all are."""
    global _BLAS_CONTROLLERS
    if _BLAS_CONTROLLERS is None:
        try:
            from threadpoolctl import ThreadpoolController

            import scipy.linalg  # noqa: F401  (SciPy's BLAS loaded)
            found = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # threadpoolctl missing or failing: nothing to control
            found = []
        from nnfast import _blas

        ours = [c for c in found if _blas.is_gemm_library(c.filepath)]
        _BLAS_CONTROLLERS = (ours, [c for c in found if c not in ours]) if ours else (found, [])
    return _BLAS_CONTROLLERS


class SerialHold:
    """A set of BLAS libraries held at one thread while any holder has it open.

    Holders may nest or overlap across Python threads (two models training, two lbfgs fits):
    the first :meth:`acquire` saves the libraries' counts and sets one thread, the last
    :meth:`release` restores the saved counts.
    """

    _lock = threading.Lock()

    def __init__(self, controllers):
        self.controllers = controllers
        self._depth, self._saved = 0, []

    def acquire(self):
        with self._lock:
            if self._depth == 0:
                self._saved = [c.num_threads for c in self.controllers]
                for c in self.controllers:
                    c.set_num_threads(1)
            self._depth += 1
        return self

    def release(self):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for c, n in zip(self.controllers, self._saved):
                    c.set_num_threads(n)


_HOLDS = None


def serial_blas(ours):
    """Acquire the one-thread hold of the BLAS library nnfast's GEMMs call (``ours``) or of
    the others; the :class:`SerialHold` (``release()`` it), or None when there is none."""
    global _HOLDS
    if _HOLDS is None:
        _HOLDS = tuple(SerialHold(c) for c in blas_controllers())
    hold = _HOLDS[0 if ours else 1]
    return hold.acquire() if hold.controllers else None


@contextlib.contextmanager
def other_blas_serial():
    """Hold the BLAS libraries other than nnfast's GEMM library at one thread inside the block.

    For SciPy code that alternates with nnfast's GEMMs, such as L-BFGS-B's vector and small
    matrix products: after each of its calls SciPy's OpenBLAS workers spin for a while and
    take the cores from the next GEMM's threads. Measured on 2 cores, the lbfgs solver on
    scikit-learn's digits (64-100-10, 50 iterations): 611 ms with both pools at two threads,
    228 ms with SciPy's at one. nnfast's own GEMMs keep their threads (and their bits).
    """
    hold = serial_blas(False)
    try:
        yield
    finally:
        if hold is not None:
            hold.release()


def blas_info():
    """threadpoolctl's description of the BLAS libraries loaded (empty without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import scipy.linalg  # noqa: F401  (make sure SciPy's BLAS is loaded)

    return [i for i in threadpool_info() if i.get("user_api") == "blas"]
