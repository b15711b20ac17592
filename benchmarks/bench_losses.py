"""Fused losses (forward + backward) against the best NumPy we can write and PyTorch.

pytest-benchmark:  ``pytest benchmarks/bench_losses.py --benchmark-only``
Side-by-side table: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_losses.py``

Every candidate returns the mean loss and the gradient with respect to its input. The NumPy
versions use preallocated buffers and in-place ufuncs (no temporaries but the row statistics);
the torch versions run the loss and ``backward()`` on a leaf tensor.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout
import nnfast as nf  # noqa: E402
from _timing import compare, format_rows  # noqa: E402

SHAPES = [(1024, 1000), (256, 10), (64, 100)]


def _logits(n, c, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c)) * 3).astype(dtype), rng.integers(0, c, n)


class NumpySoftmaxXent:
    """The best NumPy softmax cross-entropy + gradient: max-shift, exp, sum, log, in place."""

    def __init__(self, n, c, dtype):
        self.buf = np.empty((n, c), dtype)
        self.rows = np.arange(n)

    def __call__(self, z, y):
        n = z.shape[0]
        e = self.buf
        m = z.max(axis=1, keepdims=True)
        np.subtract(z, m, out=e)
        np.exp(e, out=e)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[self.rows, y], dtype=np.float64))
        np.multiply(e, (1.0 / (s * n)).astype(e.dtype), out=e)
        e[self.rows, y] -= e.dtype.type(1.0 / n)
        return loss, e


class NumpySigmoidXent:
    """Binary cross-entropy from logits and its gradient, stable, with preallocated buffers."""

    def __init__(self, shape, dtype):
        self.a = np.empty(shape, dtype)
        self.g = np.empty(shape, dtype)

    def __call__(self, x, t):
        a, g = self.a, self.g
        np.abs(x, out=a)
        np.negative(a, out=a)
        np.exp(a, out=a)                       # e = exp(-|x|)
        np.add(a, 1, out=g)
        np.reciprocal(g, out=g)                # 1 / (1 + e)
        np.multiply(g, np.where(x < 0, a, 1), out=g)   # sigmoid(x)
        loss = float(np.mean(np.maximum(x, 0) - x * t + np.log1p(a), dtype=np.float64))
        np.subtract(g, t, out=g)
        g /= x.size
        return loss, g


def _numpy_mse(p, t, g):
    np.subtract(p, t, out=g)
    loss = float(np.mean(np.square(g), dtype=np.float64))
    g *= 2.0 / p.size
    return loss, g


def _torch_fb(torch, fn, x, *args, **kw):
    xt = torch.from_numpy(x).requires_grad_(True)
    targs = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]

    def run():
        xt.grad = None
        loss = fn(xt, *targs, **kw)
        loss.backward()
        return loss.item(), xt.grad

    return run


@pytest.mark.benchmark(group="softmax_cross_entropy 1024x1000 f32 fwd+bwd")
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_softmax_cross_entropy(benchmark, impl):
    z, y = _logits(1024, 1000)
    if impl == "nnfast":
        benchmark(nf.kernels.softmax_cross_entropy, z, y)
    elif impl == "numpy":
        benchmark(NumpySoftmaxXent(1024, 1000, np.float32), z, y)
    else:
        torch = pytest.importorskip("torch")
        benchmark(_torch_fb(torch, torch.nn.functional.cross_entropy, z, y))


@pytest.mark.benchmark(group="sigmoid_cross_entropy 1024x100 f32 fwd+bwd")
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_sigmoid_cross_entropy(benchmark, impl):
    x, _ = _logits(1024, 100)
    t = (np.random.default_rng(1).uniform(size=x.shape) < 0.5).astype(np.float32)
    if impl == "nnfast":
        benchmark(nf.kernels.sigmoid_cross_entropy, x, t)
    elif impl == "numpy":
        benchmark(NumpySigmoidXent(x.shape, np.float32), x, t)
    else:
        torch = pytest.importorskip("torch")
        benchmark(_torch_fb(torch, torch.nn.functional.binary_cross_entropy_with_logits, x, t))


@pytest.mark.benchmark(group="mse_loss 1024x100 f32 fwd+bwd")
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_mse_loss(benchmark, impl):
    p, _ = _logits(1024, 100)
    t, _ = _logits(1024, 100, seed=1)
    if impl == "nnfast":
        benchmark(nf.kernels.mse_loss, p, t)
    elif impl == "numpy":
        benchmark(_numpy_mse, p, t, np.empty_like(p))
    else:
        torch = pytest.importorskip("torch")
        benchmark(_torch_fb(torch, torch.nn.functional.mse_loss, p, t))


def main():
    try:
        import torch
    except ImportError:
        torch = None
    print(f"nnfast threads: {nf.get_num_threads()}"
          + (f", torch threads: {torch.get_num_threads()}" if torch is not None else ""))
    for n, c in SHAPES:
        z, y = _logits(n, c)
        out = np.empty_like(z)
        np_fn = NumpySoftmaxXent(n, c, np.float32)
        cands = {
            "numpy (best)": lambda: np_fn(z, y),
            "nnfast": lambda: nf.kernels.softmax_cross_entropy(z, y),
            "nnfast (out=)": lambda: nf.kernels.softmax_cross_entropy(z, y, out=out),
        }
        if torch is not None:
            cands["torch"] = _torch_fb(
                torch, torch.nn.functional.cross_entropy, z, y)
        print(format_rows(f"softmax_cross_entropy {n}x{c} float32, forward+backward",
                          compare(cands)))
        if torch is not None and (n, c) == SHAPES[0]:
            print(format_rows(f"softmax_cross_entropy {n}x{c} float32, torch as the baseline",
                              compare({k: cands[k] for k in list(cands)[::-1]})))

    x, _ = _logits(1024, 100)
    t = (np.random.default_rng(1).uniform(size=x.shape) < 0.5).astype(np.float32)
    np_sig = NumpySigmoidXent(x.shape, np.float32)
    cands = {
        "numpy (best)": lambda: np_sig(x, t),
        "nnfast": lambda: nf.kernels.sigmoid_cross_entropy(x, t),
    }
    if torch is not None:
        cands["torch"] = _torch_fb(
            torch, torch.nn.functional.binary_cross_entropy_with_logits, x, t)
    print(format_rows("sigmoid_cross_entropy 1024x100 float32, forward+backward", compare(cands)))

    p, _ = _logits(1024, 100, seed=2)
    g = np.empty_like(p)
    cands = {
        "numpy (best)": lambda: _numpy_mse(p, x, g),
        "nnfast": lambda: nf.kernels.mse_loss(p, x),
    }
    if torch is not None:
        cands["torch"] = _torch_fb(torch, torch.nn.functional.mse_loss, p, x)
    print(format_rows("mse_loss 1024x100 float32, forward+backward", compare(cands)))


if __name__ == "__main__":
    main()
