"""Training and serving MLPs: nnfast's compiled plan against NumPy, PyTorch and scikit-learn.

Side-by-side tables (issue 4's benchmark), one command:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_training.py``
(``--quick``: fewer rounds and workloads; ``--rounds N``.)
pytest-benchmark: ``pytest benchmarks/bench_training.py --benchmark-only``

Workloads (float32 unless said, Adam lr 1e-3, one shuffled epoch, samples/s):
784-256-128-10 ReLU + softmax cross-entropy on 16,384 MNIST-shaped synthetic samples at batch
32, 128, 512; the tabular 30-64-64-1 sigmoid + binary cross-entropy net at batch 32; a float64
row; the wide 2048-1024-1024-10 net (BLAS-bound); ``predict`` latency at batch 1 and 1024.

Competitors, interleaved in one process (``_timing.compare``): nnfast's ``Sequential.fit``
(through the compiled plan, ``nnfast._plan``: one ``train_chunk`` call per ~50 ms of batches),
nnfast's per-layer Python path (``fit`` with the plan switched off), ``peers.NumpyMLP``,
torch eager with fused and default (foreach) Adam at 1 and 2 threads, and scikit-learn's
``MLPClassifier(solver="adam")`` (``partial_fit``, one epoch).
"""

import argparse
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _peers_first  # noqa: E402,F401  (before nnfast: see its docstring)
import nnfast as nf  # noqa: E402
from nnfast import _blas  # noqa: E402
from _timing import compare, format_rows  # noqa: E402
from peers import NumpyMLP, sklearn_trainer, torch_trainer  # noqa: E402

MNIST = (784, 256, 128, 10)
TABULAR = (30, 64, 64, 1)
WIDE = (2048, 1024, 1024, 10)
N_SAMPLES = 16384


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def make_data(sizes, n, binary=False, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if binary:
        X = rng.standard_normal((n, sizes[0])).astype(dtype)
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    else:
        X = rng.random((n, sizes[0]), dtype=np.float64).astype(dtype)  # MNIST-like [0, 1) pixels
        y = rng.integers(0, sizes[-1], n)
    return X, y


def nnfast_model(sizes, binary=False, dtype="float32", seed=0):
    layers = [nf.layers.Dense(h, activation="relu", kernel_initializer="he_normal")
              for h in sizes[1:-1]]
    layers.append(nf.layers.Dense(sizes[-1], activation="sigmoid" if binary else "softmax"))
    model = nf.Sequential(layers, input_dim=sizes[0], dtype=dtype, seed=seed)
    model.compile(optimizer=nf.optimizers.Adam(1e-3),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def training_candidates(sizes, X, y, batch_size, *, binary=False, dtype="float32",
                        peers=True, python_path=True):
    """{name: one-epoch callable} for one workload."""
    cands = {}
    fast = nnfast_model(sizes, binary, dtype)
    fast.fit(X[:4 * batch_size], y[:4 * batch_size], epochs=1, batch_size=batch_size, verbose=0)
    cands["nnfast fit"] = lambda: fast.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)
    if _blas.own_sgemm() and np.dtype(dtype) == np.float32:
        # The same fit with every GEMM in OpenBLAS (no own GEMM, so no thread team): what
        # nnfast's own GEMM is worth, in the same process.
        other = nnfast_model(sizes, binary, dtype)

        def openblas_fit():
            _blas.select(own_sgemm=False)
            try:
                other.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)
            finally:
                _blas.select()
        cands["nnfast fit, OpenBLAS GEMM"] = openblas_fit
    if python_path:
        slow = nnfast_model(sizes, binary, dtype)
        slow._use_plan = False  # Sequential.fit through the layers' Python objects
        cands["nnfast per-layer path"] = lambda: slow.fit(X, y, epochs=1, batch_size=batch_size,
                                                          verbose=0)
    if not peers:
        return cands
    npy = NumpyMLP(list(sizes), dtype=np.dtype(dtype).type, binary=binary)
    cands["NumPy loop"] = npy.trainer(X, y, batch_size)
    torch = _torch()
    if torch is not None:
        for fused in (True, False):
            for threads in (2, 1):
                epoch, _ = torch_trainer(list(sizes), X, y, batch_size, fused=fused,
                                         threads=threads, binary=binary, dtype=dtype)
                name = f"torch {'fused' if fused else 'default'} Adam, {threads} thr"
                cands[name] = (lambda e=epoch, t=threads: (torch.set_num_threads(t), e()))
        torch.set_num_threads(os.cpu_count() or 1)
    try:
        epoch, _ = sklearn_trainer(list(sizes), X, y, batch_size)
        cands["sklearn MLPClassifier"] = epoch
    except ImportError:
        pass
    return cands


def predict_candidates(sizes, X, binary=False):
    model = nnfast_model(sizes, binary)
    model.build()
    layered = nnfast_model(sizes, binary)
    layered.build()
    layered._use_plan = False
    cands = {"nnfast model.predict": lambda: model.predict(X),
             "nnfast per-layer predict": lambda: layered.predict(X)}
    npy = NumpyMLP(list(sizes), binary=binary)
    cands["NumPy forward"] = lambda: npy.predict(X)
    torch = _torch()
    if torch is not None:
        y2 = np.zeros(2, np.int64)
        tm = torch_trainer(list(sizes), X[:1].repeat(2, axis=0), y2, 2, binary=binary)[1]
        link = torch.sigmoid if binary else (lambda z: torch.softmax(z, dim=1))
        for threads in (2, 1):
            def run(t=threads):
                torch.set_num_threads(t)
                with torch.no_grad():
                    return link(tm(torch.from_numpy(X)))
            cands[f"torch eager, {threads} thr"] = run
        torch.set_num_threads(os.cpu_count() or 1)
    try:
        from sklearn.neural_network import MLPClassifier
        import warnings
        clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1], max_iter=1)
        Xs, ys = make_data(sizes, 64, binary=binary)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(Xs, ys)
        cands["sklearn predict_proba"] = lambda: clf.predict_proba(X)
        from nnfast.sklearn import MLPClassifier as NfMLPClassifier
        est = NfMLPClassifier(hidden_layer_sizes=sizes[1:-1], max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(Xs, ys)
        cands["nnfast.sklearn predict_proba"] = lambda: est.predict_proba(X)
    except ImportError:
        pass
    return cands


def _table(title, rows, n, unit="samples/s"):
    """Rows with samples/s and ratios against torch's best and the NumPy loop."""
    by = {name: med for name, med, _, _ in rows}
    torch_best = min((v for k, v in by.items() if k.startswith("torch")), default=None)
    numpy = by.get("NumPy loop") or by.get("NumPy forward")
    lines = [title, f"  {'candidate':<30}{'median':>11}{'best':>11}{unit:>13}"
                    f"{'vs torch best':>15}{'vs NumPy':>10}"]
    for name, med, best, _ in rows:
        rate = f"{n / med:,.0f}" if unit == "samples/s" else f"{med * 1e6:,.0f} us"
        vt = f"{torch_best / med:.2f}x" if torch_best else "-"
        vn = f"{numpy / med:.2f}x" if numpy else "-"
        lines.append(f"  {name:<30}{_fmt(med):>11}{_fmt(best):>11}{rate:>13}{vt:>15}{vn:>10}")
    return "\n".join(lines)


def _fmt(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else (f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s")


def _environment():
    from threadpoolctl import threadpool_info

    import scipy.linalg  # noqa: F401  (load SciPy's BLAS so it is listed)

    from nnfast import _plan

    if _plan._team_wanted():
        limit = (f", for Dense kernels under {_plan._TEAM_MAX_KERNEL:,} weights; BLAS at that "
                 "count for wider ones" if _plan._TEAM_MAX_KERNEL else "")
        plan = ("one OpenMP region per chunk of steps, each thread its share of every GEMM in "
                "nnfast's own GEMM" + limit if _blas.own_sgemm() else
                "one OpenMP region per chunk of steps, single-threaded BLAS in each thread")
    else:
        plan = "BLAS at that count, element-wise kernels on 1 thread"
    lines = [f"nnfast threads: {nf.get_num_threads()} (training plan with 2+ threads: {plan}); "
             f"own float32 GEMM: {_blas.own_sgemm_isa() or 'off'}; "
             f"GEMM library: {_blas.in_use()}; os.cpu_count()={os.cpu_count()}"]
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                "MKL_NUM_THREADS"):
        lines.append(f"  {var}={os.environ.get(var, '(unset)')}")
    torch = _torch()
    if torch is not None:
        lines.append(f"torch {torch.__version__}, torch.get_num_threads()={torch.get_num_threads()}")
    for info in threadpool_info():
        lines.append(f"  threadpoolctl: {info.get('internal_api')} {info.get('version')} "
                     f"{info.get('threading_layer', '')} num_threads={info.get('num_threads')} "
                     f"{os.path.basename(info.get('filepath', ''))}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds, fewer workloads")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--predict-only", action="store_true", help="only the predict latency tables")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    print(_environment())
    print()
    X, y = make_data(MNIST, N_SAMPLES)
    if not args.predict_only:
        _training_tables(args, rounds, X, y)
    for n in (1, 1024):
        Xp = X[:n].copy()
        # 0.3 s per sample: the previous candidate's BLAS/OpenMP workers spin for up to ~0.1 s
        # after it returns (OpenBLAS's thread timeout, libgomp's spin-wait) and slow the next.
        rows = compare(predict_candidates(MNIST, Xp), rounds=max(rounds, 5), min_time=0.3)
        print(_table(f"predict 784-256-128-10, batch {n} (latency per call)", rows, n,
                     unit="latency"))
        print()
    Xt, _ = make_data(TABULAR, 1, binary=True)
    rows = compare(predict_candidates(TABULAR, Xt, binary=True), rounds=max(rounds, 5),
                   min_time=0.3)
    print(_table("predict 30-64-64-1 (tabular), batch 1 (latency per call)", rows, 1,
                 unit="latency"))
    print()


def _training_tables(args, rounds, X, y):
    for bs in ((32, 512) if args.quick else (32, 128, 512)):
        rows = compare(training_candidates(MNIST, X, y, bs, python_path=not args.quick),
                       rounds=rounds, min_time=1e-9)
        print(_table(f"784-256-128-10 ReLU, softmax CE, Adam, float32, batch {bs}, "
                     f"{N_SAMPLES} samples (one epoch)", rows, N_SAMPLES))
        print()
    Xt, yt = make_data(TABULAR, N_SAMPLES, binary=True)
    rows = compare(training_candidates(TABULAR, Xt, yt, 32, binary=True), rounds=rounds,
                   min_time=1e-9)
    print(_table(f"30-64-64-1 sigmoid + BCE, Adam, float32, batch 32, {N_SAMPLES} samples",
                 rows, N_SAMPLES))
    print()
    if not args.quick:
        X64 = X.astype(np.float64)
        rows = compare(training_candidates(MNIST, X64, y, 128, dtype="float64"), rounds=rounds,
                       min_time=1e-9)
        print(_table(f"784-256-128-10, float64, batch 128, {N_SAMPLES} samples", rows, N_SAMPLES))
        print()
        n_wide = 2048
        Xw, yw = make_data(WIDE, n_wide)
        rows = compare(training_candidates(WIDE, Xw, yw, 128), rounds=rounds, min_time=1e-9)
        print(_table(f"2048-1024-1024-10 (wide), float32, batch 128, {n_wide} samples", rows,
                     n_wide))
        print()


# ---- pytest-benchmark (benchmarks/ is outside the default test paths) ----

@pytest.fixture(scope="module")
def mnist():
    return make_data(MNIST, 4096)


@pytest.mark.benchmark(group="train 784-256-128-10 b32 (4096 samples)")
@pytest.mark.parametrize("name", ["nnfast fit", "NumPy loop", "torch fused Adam, 2 thr",
                                  "torch fused Adam, 1 thr"])
def test_train_mnist_b32(benchmark, mnist, name):
    X, y = mnist
    cands = training_candidates(MNIST, X, y, 32, python_path=False,
                                peers=not name.startswith("nnfast"))
    if name not in cands:
        pytest.skip(f"{name} not available")
    benchmark.pedantic(cands[name], rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="train 30-64-64-1 b32 (4096 samples)")
@pytest.mark.parametrize("name", ["nnfast fit", "NumPy loop", "torch fused Adam, 2 thr",
                                  "torch fused Adam, 1 thr"])
def test_train_tabular_b32(benchmark, name):
    X, y = make_data(TABULAR, 4096, binary=True)
    cands = training_candidates(TABULAR, X, y, 32, binary=True, python_path=False,
                                peers=not name.startswith("nnfast"))
    if name not in cands:
        pytest.skip(f"{name} not available")
    benchmark.pedantic(cands[name], rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="predict 784-256-128-10 batch 1")
@pytest.mark.parametrize("name", ["nnfast model.predict", "NumPy forward", "torch eager, 1 thr"])
def test_predict_b1(benchmark, mnist, name):
    cands = predict_candidates(MNIST, mnist[0][:1].copy())
    if name not in cands:
        pytest.skip(f"{name} not available")
    benchmark(cands[name])


if __name__ == "__main__":
    main()
