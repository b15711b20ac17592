"""Thread-count control and build introspection."""

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


@pytest.mark.parametrize("bad", [0, -3])
def test_set_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="n >= 1"):
        nf.set_num_threads(bad)


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
