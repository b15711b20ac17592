"""Batch norm, layer norm, dropout and gather_rows against NumPy (and PyTorch when installed).

pytest-benchmark:  ``pytest benchmarks/bench_norm.py --benchmark-only``
Side-by-side table: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_norm.py``

Each NumPy candidate is the best plain-NumPy expression we know for the same result (in-place
operations, reused buffers, float32 throughout); torch runs its ATen kernels directly
(``native_batch_norm`` and friends, no autograd bookkeeping) with the same thread count. Tables
are printed for 1 thread and for nnfast's default count.

On a small shared machine (2 cores busy with other work) libgomp's default barrier (spin, then
sleep) can stall a 2-thread region for whole scheduler ticks (4-16 ms, for nnfast and torch
alike); ``OMP_WAIT_POLICY=passive`` avoids that, at a few microseconds per parallel region.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout
import nnfast as nf  # noqa: E402
from _timing import compare, format_rows  # noqa: E402

K = nf.kernels
EPS = 1e-3
NORM_SHAPES = [(512, 256), (128, 784)]
GATHER = (16384, 784, 512)


def _inputs(n, d, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = (1.0 + 2.0 * rng.standard_normal((n, d))).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, d).astype(dtype)
    beta = rng.standard_normal(d).astype(dtype)
    dy = rng.standard_normal((n, d)).astype(dtype)
    return x, gamma, beta, dy


# ------------------------------------------------------------------------------ candidates


def numpy_batch_norm(x, gamma, beta, dy):
    """Training forward + backward in NumPy, float32, in-place where possible."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    xc = x - mean
    var = np.einsum("ij,ij->j", xc, xc) / n
    inv_std = 1.0 / np.sqrt(var + EPS)
    xhat = np.multiply(xc, inv_std, out=xc)
    y = xhat * gamma
    y += beta
    dbeta = dy.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dy, xhat)
    dx = xhat * (dgamma / n)
    np.subtract(dy, dx, out=dx)
    dx -= dbeta / n
    dx *= gamma * inv_std
    return y, dx, dgamma, dbeta


def numpy_layer_norm(x, gamma, beta, dy):
    d = x.shape[1]
    mean = x.mean(axis=1, keepdims=True)
    xc = x - mean
    var = np.einsum("ij,ij->i", xc, xc)[:, None] / d
    inv_std = 1.0 / np.sqrt(var + EPS)
    xhat = np.multiply(xc, inv_std, out=xc)
    y = xhat * gamma
    y += beta
    g = dy * gamma
    a = g.mean(axis=1, keepdims=True)
    b = np.einsum("ij,ij->i", g, xhat)[:, None] / d
    dx = xhat * b
    np.subtract(g, dx, out=dx)
    dx -= a
    dx *= inv_std
    dgamma = np.einsum("ij,ij->j", dy, xhat)
    dbeta = dy.sum(axis=0)
    return y, dx, dgamma, dbeta


def numpy_dropout(x, rate, rng, u, dy):
    rng.random(out=u, dtype=np.float32)
    mask = (u >= rate).astype(np.float32)
    mask *= np.float32(1.0 / (1.0 - rate))
    return x * mask, dy * mask


def nnfast_batch_norm(x, gamma, beta, dy, y, dx):
    _, mean, inv_std = K.batch_norm_forward(x, gamma, beta, epsilon=EPS, out=y)
    return K.batch_norm_backward(dy, x, gamma, mean, inv_std, out=dx)


def nnfast_layer_norm(x, gamma, beta, dy, y, dx):
    _, mean, inv_std = K.layer_norm_forward(x, gamma, beta, epsilon=EPS, out=y)
    return K.layer_norm_backward(dy, x, gamma, mean, inv_std, out=dx)


def nnfast_dropout(x, rate, seed, y, mask, dy, dx):
    K.dropout_forward(x, rate, seed, out=y, mask=mask)
    return K.dropout_backward(dy, mask, out=dx)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(nf.get_num_threads())
    return torch


def torch_candidates(torch, x, gamma, beta, dy, rate):
    """Forward + backward closures on torch's ATen kernels, keyed like the NumPy ones."""
    aten = torch.ops.aten
    tx, tg, tb, tdy = (torch.from_numpy(a) for a in (x, gamma, beta, dy))
    d = x.shape[1]

    def bn():
        y, m, s = aten.native_batch_norm(tx, tg, tb, None, None, True, 0.1, EPS)
        return aten.native_batch_norm_backward(tdy, tx, tg, None, None, m, s, True, EPS,
                                               [True, True, True])

    def ln():
        y, m, s = aten.native_layer_norm(tx, [d], tg, tb, EPS)
        return aten.native_layer_norm_backward(tdy, tx, [d], m, s, tg, tb, [True, True, True])

    def dropout():
        y, keep = aten.native_dropout(tx, rate, True)
        return aten.native_dropout_backward(tdy, keep, 1.0 / (1.0 - rate))

    return {"batch_norm": bn, "layer_norm": ln, "dropout": dropout}


# ------------------------------------------------------------------------------ pytest-benchmark


@pytest.mark.benchmark(group="batch_norm fwd+bwd 512x256 f32")
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_batch_norm(benchmark, impl):
    x, g, b, dy = _inputs(512, 256)
    if impl == "nnfast":
        y, dx = np.empty_like(x), np.empty_like(x)
        benchmark(nnfast_batch_norm, x, g, b, dy, y, dx)
    elif impl == "numpy":
        benchmark(numpy_batch_norm, x, g, b, dy)
    else:
        torch = pytest.importorskip("torch")
        benchmark(torch_candidates(_torch() or torch, x, g, b, dy, 0.2)["batch_norm"])


@pytest.mark.benchmark(group="layer_norm fwd+bwd 512x256 f32")
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_layer_norm(benchmark, impl):
    x, g, b, dy = _inputs(512, 256)
    if impl == "nnfast":
        y, dx = np.empty_like(x), np.empty_like(x)
        benchmark(nnfast_layer_norm, x, g, b, dy, y, dx)
    elif impl == "numpy":
        benchmark(numpy_layer_norm, x, g, b, dy)
    else:
        torch = pytest.importorskip("torch")
        benchmark(torch_candidates(_torch() or torch, x, g, b, dy, 0.2)["layer_norm"])


@pytest.mark.benchmark(group="dropout fwd+bwd 512x256 f32")
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_dropout(benchmark, impl):
    x, _, _, dy = _inputs(512, 256)
    if impl == "nnfast":
        y, mask, dx = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        benchmark(nnfast_dropout, x, 0.2, 1234, y, mask, dy, dx)
    elif impl == "numpy":
        benchmark(numpy_dropout, x, 0.2, np.random.default_rng(0), np.empty_like(x), dy)
    else:
        torch = pytest.importorskip("torch")
        benchmark(torch_candidates(_torch() or torch, x, x[0], x[0], dy, 0.2)["dropout"])


@pytest.mark.benchmark(group="gather 512 of 16384x784 f32")
@pytest.mark.parametrize("impl", ["nnfast", "numpy"])
def test_gather_rows(benchmark, impl):
    n, d, m = GATHER
    X = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    idx = np.random.default_rng(1).permutation(n)[:m]
    buf = np.empty((m, d), np.float32)
    if impl == "nnfast":
        benchmark(K.gather_rows, X, idx, out=buf)
    else:
        benchmark(np.take, X, idx, axis=0, out=buf)


# ------------------------------------------------------------------------------ tables


def _tables(torch, threads):
    """Print every comparison with nnfast (and torch) on ``threads`` threads."""
    nf.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"\n=== {threads} thread(s) ===")
    for n, d in NORM_SHAPES:
        x, g, b, dy = _inputs(n, d)
        y, dx, mask, u = (np.empty_like(x) for _ in range(4))
        tc = torch_candidates(torch, x, g, b, dy, 0.2) if torch else {}
        rng = np.random.default_rng(0)
        groups = [
            ("batch_norm", {
                "numpy": lambda: numpy_batch_norm(x, g, b, dy),
                "nnfast": lambda: nnfast_batch_norm(x, g, b, dy, y, dx),
            }),
            ("layer_norm", {
                "numpy": lambda: numpy_layer_norm(x, g, b, dy),
                "nnfast": lambda: nnfast_layer_norm(x, g, b, dy, y, dx),
            }),
            ("dropout", {
                "numpy": lambda: numpy_dropout(x, 0.2, rng, u, dy),
                "nnfast": lambda: nnfast_dropout(x, 0.2, 1234, y, mask, dy, dx),
            }),
        ]
        for name, cands in groups:
            if name in tc:
                cands["torch (ATen)"] = tc[name]
            rate = "(0.2) " if name == "dropout" else ""
            print(format_rows(f"{name} {rate}forward+backward {n}x{d} float32", compare(cands)))
        mm, mv = x.mean(axis=0), x.var(axis=0)
        cands = {
            "numpy": lambda: np.add(np.multiply(x - mm, g / np.sqrt(mv + EPS), out=y), b, out=y),
            "nnfast": lambda: K.batch_norm_inference(x, g, b, mm, mv, epsilon=EPS, out=y),
        }
        if torch is not None:
            tx, tg, tb, tmm, tmv = (torch.from_numpy(a) for a in (x, g, b, mm, mv))
            cands["torch (ATen)"] = lambda: torch.nn.functional.batch_norm(
                tx, tmm, tmv, tg, tb, training=False, eps=EPS)
        print(format_rows(f"batch_norm inference {n}x{d} float32", compare(cands)))

    n, d, m = GATHER
    X = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    idx = np.random.default_rng(1).permutation(n)[:m]
    buf = np.empty((m, d), np.float32)
    cands = {
        "np.take(X, idx, axis=0, out=buf)": lambda: np.take(X, idx, axis=0, out=buf),
        "X[idx]": lambda: X[idx],
        "nnfast gather_rows(out=buf)": lambda: K.gather_rows(X, idx, out=buf),
    }
    if torch is not None:
        tX, tidx, tbuf = torch.from_numpy(X), torch.from_numpy(idx), torch.from_numpy(buf)
        cands["torch.index_select(out=)"] = lambda: torch.index_select(tX, 0, tidx, out=tbuf)
    print(format_rows(f"gather {m} shuffled rows of {n}x{d} float32", compare(cands)))


def main():
    torch = _torch()
    default = nf.get_num_threads()
    print(f"nnfast default threads: {default}; torch: {torch.__version__ if torch else 'absent'}; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    for threads in sorted({1, default}):
        _tables(torch, threads)
    nf.set_num_threads(default)


if __name__ == "__main__":
    main()
