"""Activation kernels against the best NumPy/SciPy equivalent (and PyTorch when installed).

pytest-benchmark:  ``pytest benchmarks/bench_activations.py --benchmark-only``
Side-by-side table: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_activations.py``
(``--quick`` for fewer rounds, ``--threads N`` to run nnfast on N threads). Output allocation is part of every measured call (torch
allocates too); torch is measured at its default thread count and at nnfast's.
"""

import os
import sys

import numpy as np
import pytest
from scipy import special

sys.path.insert(0, os.path.dirname(__file__))
import nnfast as nf  # noqa: E402
from _timing import compare, format_rows  # noqa: E402

K = nf.kernels
N = 10_000_000
SQRT1_2 = np.float32(1 / np.sqrt(2))


def _x(n=N, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).standard_normal(n) * 3).astype(dtype)


# The best plain NumPy/SciPy we know for each kernel (float32 in, float32 out).
def np_relu(x):
    return np.maximum(x, 0)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_tanh(x):
    return np.tanh(x)


def np_gelu(x):
    return 0.5 * x * (1 + special.erf(x * SQRT1_2))


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def np_bias_grad(g):
    return g.sum(axis=0, dtype=np.float64).astype(g.dtype)


NUMPY = {"relu": np_relu, "sigmoid": np_sigmoid, "tanh": np_tanh, "gelu": np_gelu}
BACKWARD_FROM = {"relu": "y", "sigmoid": "y", "tanh": "y", "gelu": "x"}


def _torch_fns(torch):
    F = torch.nn.functional
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu}


# ---------------------------------------------------------------- pytest-benchmark ----

@pytest.mark.parametrize("name", list(NUMPY))
@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_forward(benchmark, name, impl):
    benchmark.group = f"{name} forward 10M float32"
    x = _x()
    if impl == "nnfast":
        benchmark(getattr(K, name), x)
    elif impl == "numpy":
        benchmark(NUMPY[name], x)
    else:
        torch = pytest.importorskip("torch")
        benchmark(_torch_fns(torch)[name], torch.from_numpy(x))


@pytest.mark.parametrize("impl", ["nnfast", "numpy", "torch"])
def test_softmax(benchmark, impl):
    benchmark.group = "softmax 10000x1000 float32"
    x = _x().reshape(10_000, 1000)
    if impl == "nnfast":
        benchmark(K.softmax, x)
    elif impl == "numpy":
        benchmark(np_softmax, x)
    else:
        torch = pytest.importorskip("torch")
        benchmark(torch.softmax, torch.from_numpy(x), 1)


@pytest.mark.parametrize("impl", ["nnfast", "numpy"])
def test_bias_grad(benchmark, impl):
    benchmark.group = "bias_grad 10000x1000 float32"
    g = _x().reshape(10_000, 1000)
    benchmark(K.bias_grad if impl == "nnfast" else np_bias_grad, g)


# ---------------------------------------------------------------- side-by-side tables ----

def _tables(rounds, torch):
    nthreads = nf.get_num_threads()
    torch_default = torch.get_num_threads() if torch else None
    x = _x()
    tx = torch.from_numpy(x) if torch else None
    g = _x(seed=1)
    tables = []

    def with_torch(cands, fn, *args):
        if torch is None:
            return cands

        def at(n):
            def run():
                torch.set_num_threads(n)
                return fn(*args)
            return run

        cands[f"torch ({torch_default} threads, default)"] = at(torch_default)
        if nthreads != torch_default:
            cands[f"torch ({nthreads} threads)"] = at(nthreads)
        return cands

    for name in NUMPY:
        cands = {
            f"nnfast {name}": lambda name=name: getattr(K, name)(x),
            f"numpy {NUMPY[name].__name__}": lambda name=name: NUMPY[name](x),
        }
        if torch:
            cands = with_torch(cands, _torch_fns(torch)[name], tx)
        tables.append((f"{name} forward, 10M float32", compare(cands, rounds=rounds)))

    for name in NUMPY:  # backward from y (or x for gelu), allocating dx
        src = x if BACKWARD_FROM[name] == "x" else getattr(K, name)(x)
        kw = {BACKWARD_FROM[name]: src}
        cands = {f"nnfast {name} backward": lambda kw=kw, name=name: K.activation_backward(g, name, **kw)}
        if name == "relu":
            cands["numpy g * (y > 0)"] = lambda src=src: g * (src > 0)
        elif name == "sigmoid":
            cands["numpy g * y * (1 - y)"] = lambda src=src: g * src * (1 - src)
        elif name == "tanh":
            cands["numpy g * (1 - y * y)"] = lambda src=src: g * (1 - src * src)
        tables.append((f"{name} backward, 10M float32", compare(cands, rounds=rounds)))

    m = x.reshape(10_000, 1000)
    cands = {"nnfast softmax": lambda: K.softmax(m), "numpy softmax": lambda: np_softmax(m)}
    if torch:
        cands = with_torch(cands, torch.softmax, torch.from_numpy(m), 1)
    tables.append(("softmax 10000x1000 float32", compare(cands, rounds=rounds)))

    gm = g.reshape(10_000, 1000)
    cands = {"nnfast bias_grad": lambda: K.bias_grad(gm), "numpy sum(axis=0, f64)": lambda: np_bias_grad(gm)}
    if torch:
        tg = torch.from_numpy(gm)
        cands = with_torch(cands, lambda: tg.sum(0))
    tables.append(("bias_grad 10000x1000 float32", compare(cands, rounds=rounds)))

    z = np.random.default_rng(2).standard_normal((256, 1024)).astype(np.float32)
    b = np.random.default_rng(3).standard_normal(1024).astype(np.float32)
    zw = z.copy()
    cands = {
        "nnfast bias_activation_inplace gelu": lambda: K.bias_activation_inplace(
            np.copyto(zw, z) or zw, b, K.activation_code("gelu")),
        "numpy copy + bias + gelu": lambda: np_gelu(np.copyto(zw, z) or zw + b),
    }
    tables.append(("bias + gelu epilogue 256x1024 float32", compare(cands, rounds=rounds)))
    return tables


def main():
    try:
        import torch
    except ImportError:
        torch = None
    rounds = 3 if "--quick" in sys.argv else 7
    if "--threads" in sys.argv:
        nf.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    print(f"nnfast threads: {nf.get_num_threads()}; torch: "
          f"{torch.__version__ + ', default threads ' + str(torch.get_num_threads()) if torch else 'not installed'}")
    for title, rows in _tables(rounds, torch):
        print(format_rows(title, rows))


if __name__ == "__main__":
    main()
