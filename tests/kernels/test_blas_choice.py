"""The GEMM library choice (nnfast._blas): NumPy's ILP64 OpenBLAS when found, SciPy's otherwise;
both give the reference product, and NNFAST_BLAS=scipy forces SciPy's."""

import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf
from nnfast import _blas
from nnfast._kernels import blas, step

PROBE = """
import numpy as np, nnfast as nf
rng = np.random.default_rng(0)
a, b = rng.standard_normal((37, 53)), rng.standard_normal((53, 29))
print(nf._blas.in_use())
np.save(__import__("sys").argv[1], nf.kernels.matmul(a.astype(np.float32), b.astype(np.float32)))
"""


def test_a_library_is_chosen_and_reported():
    assert _blas.in_use() == "scipy" or _blas.in_use().startswith("numpy (")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_libraries_compute_the_product(dtype):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((67, 129)).astype(dtype), rng.standard_normal((129, 33)).astype(dtype)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    try:
        for choice in ("scipy", "default"):
            if choice == "scipy":
                blas.use_gemm64(0, 0)
                step.use_gemm64(0, 0)
            else:
                _blas.select()
            np.testing.assert_allclose(nf.kernels.matmul(a, b), expected, **tol)
            np.testing.assert_allclose(nf.kernels.matmul(a.T, b, transpose_a=True), expected, **tol)
    finally:
        _blas.select()


def test_nnfast_blas_scipy_forces_scipys_library(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_BLAS", "scipy")
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "c.npy")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "scipy"
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((37, 53)), rng.standard_normal((53, 29))
    np.testing.assert_allclose(np.load(tmp_path / "c.npy"), a @ b, rtol=1e-4, atol=1e-4)
