"""Optimizer updates and norms against the best in-place NumPy and torch.optim (when installed).

pytest-benchmark:  ``pytest benchmarks/bench_optim.py --benchmark-only``
Side-by-side table: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_optim.py``

Every update is timed as one step on ``n`` float32 parameters whose state lives across calls
(as in training). The NumPy versions are the fastest in-place NumPy we know: preallocated
temporaries, ``out=`` everywhere, scalars folded (Adam uses the paper's ε̂ form, one pass fewer).
"""

import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import nnfast as nf  # noqa: E402
from nnfast._kernels import optim as _k  # noqa: E402
from _timing import compare, format_rows  # noqa: E402

K = nf.kernels
LR, B1, B2, EPS, MU, RHO = 1e-3, 0.9, 0.999, 1e-8, 0.9, 0.9
STEP = 10  # a fixed step: bias corrections do not change the cost


def _problem(n, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    return p, g, np.zeros(n, dtype), np.zeros(n, dtype)


# ---- the best in-place NumPy we can write ----

def numpy_adam(p, g, m, v, tmp, step=STEP, lr=LR, b1=B1, b2=B2, eps=EPS):
    """Adam in 9 in-place passes: m += (1-β1)(g-m); v = β2v + (1-β2)g²; p -= ŝ·m/(√v + ε̂)."""
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    s = math.sqrt(bc2)
    np.subtract(g, m, out=tmp)
    tmp *= 1 - b1
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v *= b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += eps * s            # √v/s + ε = (√v + ε·s)/s
    np.divide(m, tmp, out=tmp)
    tmp *= lr * s / bc1
    p -= tmp


def numpy_sgd_momentum(p, g, b, tmp, lr=LR, mu=MU):
    b *= mu
    b += g
    np.multiply(b, lr, out=tmp)
    p -= tmp


def numpy_rmsprop(p, g, sq, tmp, lr=LR, rho=RHO, eps=EPS):
    sq *= rho
    np.multiply(g, g, out=tmp)
    tmp *= 1 - rho
    sq += tmp
    np.sqrt(sq, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    tmp *= lr
    p -= tmp


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_step(torch, n, make, seed=0):
    """A zero-argument torch optimizer step on n float32 parameters (grad set once)."""
    p, g, _, _ = _problem(n, seed=seed)
    tp = torch.nn.Parameter(torch.from_numpy(p))
    tp.grad = torch.from_numpy(g)
    opt = make([tp])
    opt.step()  # create the state outside the timing
    return opt.step


def _torch_fused(torch, cls, params, **kw):
    try:
        return cls(params, fused=True, **kw)
    except (RuntimeError, ValueError, TypeError):  # no fused CPU kernel in this version
        return cls(params, **kw)


# ---- pytest-benchmark (not collected by the default test run) ----

N_BENCH = 1_000_000
IMPLS = ["nnfast", "numpy", "torch"]


def _impl_or_skip(impl):
    torch = _torch() if impl == "torch" else None
    if impl == "torch" and torch is None:
        pytest.skip("torch not installed")
    return torch


@pytest.mark.benchmark(group="adam_update 1M f32")
@pytest.mark.parametrize("impl", IMPLS)
def test_adam(benchmark, impl):
    torch = _impl_or_skip(impl)
    p, g, m, v = _problem(N_BENCH)
    if impl == "nnfast":
        benchmark(lambda: K.adam_update(p, g, m, v, step=STEP, learning_rate=LR))
    elif impl == "numpy":
        tmp = np.empty_like(p)
        benchmark(numpy_adam, p, g, m, v, tmp)
    else:
        benchmark(_torch_step(torch, N_BENCH, lambda ps: _torch_fused(torch, torch.optim.Adam, ps, lr=LR)))


@pytest.mark.benchmark(group="sgd_update momentum 1M f32")
@pytest.mark.parametrize("impl", IMPLS)
def test_sgd_momentum(benchmark, impl):
    torch = _impl_or_skip(impl)
    p, g, b, tmp = _problem(N_BENCH)
    if impl == "nnfast":
        benchmark(lambda: K.sgd_update(p, g, b, learning_rate=LR, momentum=MU))
    elif impl == "numpy":
        benchmark(numpy_sgd_momentum, p, g, b, tmp)
    else:
        benchmark(_torch_step(torch, N_BENCH, lambda ps: _torch_fused(
            torch, torch.optim.SGD, ps, lr=LR, momentum=MU)))


@pytest.mark.benchmark(group="rmsprop_update 1M f32")
@pytest.mark.parametrize("impl", IMPLS)
def test_rmsprop(benchmark, impl):
    torch = _impl_or_skip(impl)
    p, g, sq, tmp = _problem(N_BENCH)
    if impl == "nnfast":
        benchmark(lambda: K.rmsprop_update(p, g, sq, learning_rate=LR, rho=RHO))
    elif impl == "numpy":
        benchmark(numpy_rmsprop, p, g, sq, tmp)
    else:
        benchmark(_torch_step(torch, N_BENCH, lambda ps: torch.optim.RMSprop(ps, lr=LR, alpha=RHO)))


@pytest.mark.benchmark(group="global_norm 1M f32")
@pytest.mark.parametrize("impl", IMPLS)
def test_global_norm(benchmark, impl):
    torch = _impl_or_skip(impl)
    p, _, _, _ = _problem(N_BENCH)
    if impl == "nnfast":
        benchmark(K.global_norm, p)
    elif impl == "numpy":
        benchmark(np.linalg.norm, p)
    else:
        benchmark(torch.linalg.vector_norm, torch.from_numpy(p))


# ---- side-by-side tables ----

def _raw(kernel, *args):
    """The compiled kernel itself on one thread (no validation: set_num_threads costs ms)."""
    return lambda: kernel(*args, 1)


def _table(title, cands):
    rows = compare(cands)
    print(format_rows(title, rows))
    return rows


def bench_adam(n, torch):
    p, g, m, v = _problem(n)
    tmp = np.empty_like(p)
    nt = nf.get_num_threads()
    cands = {
        f"nnfast adam_update ({nt} threads)": lambda: K.adam_update(p, g, m, v, step=STEP, learning_rate=LR),
        "nnfast kernel, 1 thread": _raw(_k.adam_update, p, g, m, v, STEP, LR, B1, B2, EPS, 0.0, False),
        "numpy in-place Adam": lambda: numpy_adam(p, g, m, v, tmp),
    }
    if torch is not None:
        cands["torch Adam(fused=True)"] = _torch_step(torch, n, lambda ps: torch.optim.Adam(ps, lr=LR, fused=True))
        cands["torch Adam (foreach)"] = _torch_step(torch, n, lambda ps: torch.optim.Adam(ps, lr=LR, foreach=True))
    return _table(f"adam_update, {n:,} float32 parameters", cands)


def bench_sgd(n, torch):
    p, g, b, tmp = _problem(n)
    nt = nf.get_num_threads()
    cands = {
        f"nnfast sgd_update momentum ({nt} thr)": lambda: K.sgd_update(p, g, b, learning_rate=LR, momentum=MU),
        "nnfast kernel, 1 thread": _raw(_k.sgd_update, p, g, b, LR, MU, False, 0.0),
        "numpy in-place SGD momentum": lambda: numpy_sgd_momentum(p, g, b, tmp),
    }
    if torch is not None:
        cands["torch SGD momentum (fused)"] = _torch_step(torch, n, lambda ps: _torch_fused(
            torch, torch.optim.SGD, ps, lr=LR, momentum=MU))
        cands["torch SGD momentum (foreach)"] = _torch_step(torch, n, lambda ps: torch.optim.SGD(
            ps, lr=LR, momentum=MU, foreach=True))
    return _table(f"sgd_update (momentum 0.9), {n:,} float32 parameters", cands)


def bench_rmsprop(n, torch):
    p, g, sq, tmp = _problem(n)
    nt = nf.get_num_threads()
    cands = {
        f"nnfast rmsprop_update ({nt} threads)": lambda: K.rmsprop_update(p, g, sq, learning_rate=LR, rho=RHO),
        "nnfast kernel, 1 thread": _raw(_k.rmsprop_update, p, g, sq, None, LR, RHO, EPS, 0.0, 0.0),
        "numpy in-place RMSprop": lambda: numpy_rmsprop(p, g, sq, tmp),
    }
    if torch is not None:
        cands["torch RMSprop (foreach)"] = _torch_step(torch, n, lambda ps: torch.optim.RMSprop(
            ps, lr=LR, alpha=RHO, foreach=True))
        cands["torch RMSprop (for-loop)"] = _torch_step(torch, n, lambda ps: torch.optim.RMSprop(
            ps, lr=LR, alpha=RHO, foreach=False))
    return _table(f"rmsprop_update, {n:,} float32 parameters", cands)


def bench_norms(n, torch):
    p, g, _, _ = _problem(n)
    parts = np.array_split(g.copy(), 8)  # a model's worth of gradient arrays
    nt = nf.get_num_threads()
    cands = {
        f"nnfast global_norm ({nt} threads)": lambda: K.global_norm(p),
        "nnfast kernel, 1 thread": _raw(_k.sum_squares, p),
        "numpy linalg.norm": lambda: float(np.linalg.norm(p)),
    }
    if torch is not None:
        tp = torch.from_numpy(p)
        cands["torch linalg.vector_norm"] = lambda: float(torch.linalg.vector_norm(tp))
    _table(f"global_norm, {n:,} float32", cands)
    cands = {
        "nnfast clip_by_global_norm (8 arrays)": lambda: K.clip_by_global_norm(parts, 1e9),
        "numpy norm + scale (8 arrays)": lambda: _numpy_clip(parts, 1e9),
    }
    if torch is not None:
        tparts = [torch.from_numpy(a) for a in parts]
        cands["torch clip_grads_with_norm_ path"] = lambda: _torch_clip(torch, tparts, 1e9)
    _table(f"clip_by_global_norm (no clipping needed), {n:,} float32 in 8 arrays", cands)
    y, x = p.copy(), g
    tmp = np.empty_like(y)
    cands = {
        "nnfast scale_add": lambda: K.scale_add(y, x, 1e-4),
        "numpy multiply(out=) + add": lambda: (np.multiply(x, 1e-4, out=tmp), np.add(y, tmp, out=y)),
    }
    if torch is not None:
        ty, tx = torch.from_numpy(y), torch.from_numpy(x)
        cands["torch add_(alpha=)"] = lambda: ty.add_(tx, alpha=1e-4)
    _table(f"scale_add (y += a*x), {n:,} float32", cands)


def _numpy_clip(arrays, max_norm):
    norm = math.sqrt(sum(float(np.dot(a, a)) for a in arrays))
    coef = max_norm / (norm + 1e-6)
    if coef < 1:
        for a in arrays:
            a *= coef
    return norm


def _torch_clip(torch, tensors, max_norm):
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))
    coef = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    torch._foreach_mul_(tensors, coef)
    return norm


def main():
    torch = _torch()
    print(f"nnfast threads: {nf.get_num_threads()}; torch: "
          f"{'%s, %d threads' % (torch.__version__, torch.get_num_threads()) if torch else 'not installed'}")
    sizes = [int(s) for s in sys.argv[1:]] or [1_000_000, 100_000]
    for n in sizes:
        bench_adam(n, torch)
        bench_sgd(n, torch)
        bench_rmsprop(n, torch)
        bench_norms(n, torch)


if __name__ == "__main__":
    main()
