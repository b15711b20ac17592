"""matmul and dense_forward against NumPy (and PyTorch when installed).

pytest-benchmark:  ``pytest benchmarks/bench_matmul.py --benchmark-only``
Side-by-side table: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_matmul.py``
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import nnfast as nf  # noqa: E402
from _timing import compare, format_rows  # noqa: E402

SHAPES = [(128, 784, 256), (32, 784, 256), (512, 256, 128), (1024, 2048, 1024)]


def _operands(m, k, n, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    return x, w, b


def _numpy_dense_relu(x, w, b):
    return np.maximum(x @ w + b, 0)


@pytest.mark.benchmark(group="matmul 128x784x256 f32")
@pytest.mark.parametrize("impl", ["nnfast", "numpy"])
def test_matmul(benchmark, impl):
    x, w, _ = _operands(128, 784, 256)
    fn = nf.kernels.matmul if impl == "nnfast" else np.matmul
    benchmark(fn, x, w)


@pytest.mark.benchmark(group="dense_forward relu 128x784x256 f32")
@pytest.mark.parametrize("impl", ["nnfast", "numpy"])
def test_dense_forward(benchmark, impl):
    x, w, b = _operands(128, 784, 256)
    if impl == "nnfast":
        benchmark(nf.kernels.dense_forward, x, w, b, "relu")
    else:
        benchmark(_numpy_dense_relu, x, w, b)


# The GEMMs of a 784-256-128-10 training step, as one thread of nnfast's training team runs
# them (half of each product's columns): (m, k, n, transpose_a, transpose_b).
TEAM_SHAPES = [(128, 784, 128, False, False), (784, 128, 128, True, False),
               (128, 128, 128, False, True), (128, 256, 64, False, False),
               (256, 128, 64, True, False), (512, 784, 128, False, False),
               (784, 512, 128, True, False), (512, 128, 128, False, True)]


def bench_one_thread():
    """nnfast's own GEMM against OpenBLAS, both on one thread (where the own GEMM runs); the
    own GEMM is switched on for the table (on an AVX2-only CPU it is off by default)."""
    from threadpoolctl import threadpool_limits

    from nnfast import _blas

    if not _blas.own_sgemm_available():
        print("one thread: no own GEMM kernel on this CPU")
        return
    before = nf.get_num_threads()
    nf.set_num_threads(1)
    _blas.select(own_sgemm=True)
    try:
        with threadpool_limits(1):
            for m, k, n, ta, tb in TEAM_SHAPES:
                rng = np.random.default_rng(0)
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
                a_op, b_op = (a.T if ta else a), (b.T if tb else b)
                out = np.empty((m, n), np.float32)
                cands = {
                    "numpy.matmul (OpenBLAS, 1 thr)": lambda: np.matmul(a_op, b_op, out=out),
                    "nnfast matmul (own GEMM, 1 thr)": lambda: nf.kernels.matmul(
                        a, b, transpose_a=ta, transpose_b=tb, out=out),
                }
                rows = compare(cands)
                flops = 2 * m * k * n
                title = (f"one thread: {m}x{k}x{n} {'T' if ta else 'N'}{'T' if tb else 'N'} "
                         f"float32 (OpenBLAS {flops / rows[0][1] / 1e9:.0f}, nnfast "
                         f"{flops / rows[1][1] / 1e9:.0f} GFLOP/s)")
                print(format_rows(title, rows))
    finally:
        _blas.select()
        nf.set_num_threads(before)


def main():
    try:
        import torch
    except ImportError:
        torch = None
    print(f"nnfast threads: {nf.get_num_threads()}")
    for m, k, n in SHAPES:
        x, w, b = _operands(m, k, n)
        out = np.empty((m, n), np.float32)
        cands = {
            "numpy.matmul": lambda: np.matmul(x, w),
            "nnfast.kernels.matmul": lambda: nf.kernels.matmul(x, w),
            "nnfast.kernels.matmul(out=)": lambda: nf.kernels.matmul(x, w, out=out),
        }
        if torch is not None:
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            cands["torch.matmul"] = lambda: torch.matmul(tx, tw)
        rows = compare(cands)
        gflops = 2 * m * k * n / rows[1][1] / 1e9
        print(format_rows(f"matmul {m}x{k}x{n} float32 (nnfast {gflops:.0f} GFLOP/s)", rows))
        cands = {
            "numpy max(x@W+b, 0)": lambda: _numpy_dense_relu(x, w, b),
            "nnfast dense_forward relu": lambda: nf.kernels.dense_forward(x, w, b, "relu"),
            "nnfast dense_forward relu (out=)": lambda: nf.kernels.dense_forward(x, w, b, "relu", out=out),
        }
        if torch is not None:
            tb = torch.from_numpy(b)
            cands["torch relu(addmm)"] = lambda: torch.relu(torch.addmm(tb, tx, tw))
        print(format_rows(f"dense_forward relu {m}x{k}x{n} float32", compare(cands)))
    bench_one_thread()


if __name__ == "__main__":
    main()
