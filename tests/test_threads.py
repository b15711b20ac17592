"""Thread-count control and build introspection."""

import os
import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf
from nnfast._kernels import threads as compiled


def test_set_and_get_num_threads_round_trip():
    nf.set_num_threads(1)
    assert nf.get_num_threads() == 1
    nf.set_num_threads(2)
    assert nf.get_num_threads() == 2


def test_set_num_threads_limits_blas():
    pytest.importorskip("threadpoolctl")
    from nnfast._threads import blas_info

    nf.set_num_threads(1)
    assert all(b["num_threads"] == 1 for b in blas_info())


@pytest.mark.parametrize("bad", [0, -3, 40_000, 2**31, 10**12])
def test_set_num_threads_rejects_out_of_range_and_keeps_the_count(bad):
    nf.set_num_threads(1)
    with pytest.raises(ValueError, match=r"1 <= n <= \d+.*received n="):
        nf.set_num_threads(bad)
    assert nf.get_num_threads() == 1
    x = np.ones(5, np.float32)
    np.testing.assert_array_equal(nf.kernels.relu(x), x)  # the kernels still run


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_set_num_threads_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="int"):
        nf.set_num_threads(bad)


def test_numpy_integers_are_accepted():
    nf.set_num_threads(np.int64(1))
    assert nf.get_num_threads() == 1


def test_default_follows_omp_num_threads():
    code = "import nnfast as nf; print(nf.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"}, check=True)
    assert out.stdout.strip() == "1"


def test_build_introspection_is_consistent():
    assert isinstance(compiled.openmp_enabled(), bool)
    assert compiled.openmp_max_threads() >= 1
    assert isinstance(compiled.isa_selected(), str) and compiled.isa_selected()


def test_info_command_prints_build_and_threads():
    out = subprocess.run([sys.executable, "-m", "nnfast", "info"], capture_output=True, text=True, check=True)
    assert "openmp:" in out.stdout and "threads:" in out.stdout and "isa selected:" in out.stdout


def _fresh_threshold(**env):
    """NNFAST_PAR_MIN_WORK and the measured wake-up as a new interpreter sees them."""
    import os

    base = {k: v for k, v in os.environ.items() if k != "NNFAST_PAR_MIN_WORK"}
    code = ("import os, nnfast._threads as t; "
            "print(os.environ.get('NNFAST_PAR_MIN_WORK'), t.region_cost_ns, t.parallel_threshold())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**base, **env}, check=True)
    return out.stdout.split()


def test_parallel_threshold_is_measured_at_import():
    exported, cost, threshold = _fresh_threshold(OMP_NUM_THREADS="2")
    if not compiled.openmp_enabled():
        assert exported == "None" and cost == "None"
        return
    assert float(cost) > 0
    # the wake-up divided by a relu element's ~0.08 ns, kept within [262144, 2**22]
    expected = min(max(float(cost) / 0.08, 262144), 1 << 22)
    assert int(exported) == int(threshold) == int(expected)


def test_parallel_threshold_respects_the_users_setting():
    exported, cost, threshold = _fresh_threshold(NNFAST_PAR_MIN_WORK="500000")
    assert exported == threshold == "500000" and cost == "None"
    # below the floor: the floor
    assert _fresh_threshold(NNFAST_PAR_MIN_WORK="10")[2] == "32768"


def test_one_thread_measures_nothing():
    exported, cost, _ = _fresh_threshold(OMP_NUM_THREADS="1")
    assert exported == "None" and cost == "None"


def test_a_later_second_thread_measures_then():
    import os

    base = {k: v for k, v in os.environ.items() if k != "NNFAST_PAR_MIN_WORK"}
    code = ("import os, nnfast as nf, nnfast._threads as t; a = t.region_cost_ns; "
            "nf.set_num_threads(2); print(a, t.region_cost_ns is not None, "
            "os.environ.get('NNFAST_PAR_MIN_WORK') is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**base, "OMP_NUM_THREADS": "1"}, check=True).stdout.split()
    assert out == (["None", "True", "True"] if compiled.openmp_enabled()
                   else ["None", "False", "False"])


def test_region_cost_is_zero_for_one_thread():
    assert compiled.region_cost_ns(1) == 0.0


@pytest.mark.parametrize("threshold", ["32768", "100000000"])
def test_kernels_agree_whatever_the_threshold(threshold):
    # the same bits from one thread and from a team: elementwise kernels and the reductions
    code = ("import numpy as np, nnfast as nf; rng = np.random.default_rng(0); "
            "x = rng.standard_normal((700, 300)).astype(np.float32); "
            "b = rng.standard_normal(300).astype(np.float32); "
            "y = nf.kernels.dense_forward(x, np.eye(300, dtype=np.float32), b, 'gelu'); "
            "l, d = nf.kernels.softmax_cross_entropy(x, rng.integers(0, 300, 700)); "
            "print(float(np.float64(y.sum())), l, float(nf.kernels.global_norm([x, d])))")
    import os

    env = {**os.environ, "NNFAST_PAR_MIN_WORK": threshold}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    env1 = {**env, "OMP_NUM_THREADS": "1"}
    out1 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env1,
                          check=True).stdout
    assert out == out1


def test_a_team_larger_than_the_machine_gives_one_threads_bits():
    # more threads than processors: the element-wise teams then skip their spinning end
    # barrier (csrc/nnf_common.h, nnf_team_done) and must still give one thread's results
    from nnfast._ops._validate import all_finite

    rng = np.random.default_rng(3)
    x = rng.standard_normal(300_001).astype(np.float32)
    p0, g = rng.standard_normal((2, 300_001)).astype(np.float32)
    before, results = nf.get_num_threads(), []
    try:
        for n in (1, 4 * (os.cpu_count() or 1)):
            nf.set_num_threads(n)
            p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
            for step in (1, 2):
                nf.kernels.adam_update(p, g, m, v, step=step, learning_rate=1e-3)
            x[7] = np.nan
            results.append((nf.kernels.gelu(x), nf.kernels.relu(x), p, m, v,
                            all_finite(x), all_finite(x[8:])))
            x[7] = 0.0
    finally:
        nf.set_num_threads(before)
    for one, many in zip(*results):
        np.testing.assert_array_equal(one, many)
    assert results[0][-2:] == (False, True)


@pytest.mark.parametrize("preset,expected", [
    ({}, ("1000", "PASSIVE")),                      # nnfast's defaults: a short spin, then sleep
    ({"OMP_WAIT_POLICY": "ACTIVE"}, (None, "ACTIVE")),  # the user's policy alone decides
    ({"GOMP_SPINCOUNT": "7"}, ("7", "PASSIVE")),      # the user's spin count is kept
])
def test_openmp_wait_settings_at_import(preset, expected):
    code = ("import os, nnfast; "
            "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(preset)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    spin, policy = out.stdout.split()
    assert (None if spin == "None" else spin, policy) == expected


def test_a_runtime_loaded_before_nnfast_keeps_kernels_on_one_thread():
    """An OpenMP runtime started by another library before nnfast (e.g. torch imported
    first) keeps its own spinning workers: the element-wise kernels then stay serial, unless
    the user set a wait policy, which that runtime read too."""
    code = ("import ctypes, ctypes.util, sys\n"
            "name = ctypes.util.find_library('gomp')\n"
            "if name is None: print('skip'); sys.exit()\n"
            "ctypes.CDLL(name)\n"
            "import nnfast as nf\n"
            "from nnfast import _threads\n"
            "nf.set_num_threads(2)\n"
            "print(_threads.foreign_openmp(), _threads.parallel_threshold() >= _threads._SERIAL)\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NNFAST_PAR_MIN_WORK")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    if out == ["skip"]:
        pytest.skip("no libgomp to preload")
    assert out == ["True", "True"]
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def _blas_threads():
    from nnfast import _blas
    from nnfast._threads import blas_info

    info = blas_info()
    return ([b["num_threads"] for b in info if not _blas.is_gemm_library(b["filepath"])],
            [b["num_threads"] for b in info if _blas.is_gemm_library(b["filepath"])])


def test_other_blas_serial_holds_the_other_pools_and_restores_them():
    pytest.importorskip("threadpoolctl")
    from nnfast._threads import other_blas_serial

    nf.set_num_threads(2)
    others, ours = _blas_threads()
    if not others:
        pytest.skip("one BLAS library loaded: nothing else to hold")
    with pytest.raises(RuntimeError):
        with other_blas_serial():
            inside_others, inside_ours = _blas_threads()
            assert inside_others == [1] * len(others)
            assert inside_ours == ours  # the GEMMs keep their threads (and their bits)
            raise RuntimeError("restored on the way out")
    assert _blas_threads() == (others, ours)
    with other_blas_serial():  # nested (or overlapping, from two Python threads)
        with other_blas_serial():
            pass
        assert _blas_threads()[0] == [1] * len(others)  # still held by the outer block
    assert _blas_threads() == (others, ours)


@pytest.mark.filterwarnings("ignore:lbfgs failed to converge")
def test_lbfgs_runs_scipy_with_the_other_pools_held(monkeypatch):
    pytest.importorskip("sklearn")
    from nnfast.sklearn import MLPClassifier, _lbfgs

    nf.set_num_threads(2)
    others, ours = _blas_threads()
    seen = []
    real = _lbfgs.minimize

    def watched(*args, **kwargs):
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(_lbfgs, "minimize", watched)
    X = np.random.default_rng(0).normal(size=(40, 3))
    MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5).fit(X, X[:, 0] > 0)
    assert seen == [([1] * len(others), ours)]
    assert _blas_threads() == (others, ours)
