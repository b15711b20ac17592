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


if __name__ == "__main__":
    main()
