"""No leaks: 10,000 training steps or predictions grow the resident memory by less than 5 MB.

RSS is read from ``/proc/self/statm`` after a warm-up (buffers, the compiled plan, NumPy's
caches and Python's arenas settle in the first calls) and after ``gc.collect()``. Measured
here: 0-100 KB. A leak of one 64-float array per call (about 620 bytes with its header)
grows it by 6 MB and fails.
"""

import gc
import os
import sys

import numpy as np
import pytest

import nnfast as nf

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or
                                not os.path.exists("/proc/self/statm"),
                                reason="reads the resident set size from /proc/self/statm")

CALLS = 10_000
LIMIT = 5 * 2**20


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(step, warmup=500):
    for _ in range(warmup):
        step()
    before = rss()
    for _ in range(CALLS):
        step()
    return rss() - before


def make(layers, compiled=True):
    model = nf.Sequential(layers, input_dim=10, seed=0)
    if compiled:
        model.compile(nf.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    return model


def mlp():
    return [nf.layers.Dense(32, activation="relu"), nf.layers.Dropout(0.1),
            nf.layers.Dense(3, activation="softmax")]


def with_norms():  # a model the compiled plan may not run: the per-layer path
    return [nf.layers.Dense(16, activation="gelu"), nf.layers.BatchNormalization(),
            nf.layers.LayerNormalization(), nf.layers.Dense(3, activation="softmax")]


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 10)).astype(np.float32)
    return X, rng.integers(0, 3, 32)


@pytest.mark.parametrize("layers", [mlp, with_norms], ids=["mlp", "norms"])
def test_train_on_batch_does_not_leak(batch, layers):
    X, y = batch
    model = make(layers())
    grew = growth(lambda: model.train_on_batch(X, y))
    assert grew < LIMIT, f"RSS grew by {grew / 2**20:.1f} MB over {CALLS} train_on_batch calls"


@pytest.mark.parametrize("compiled", [True, False], ids=["plan", "layers"])
@pytest.mark.parametrize("rows", [1, 32])
def test_predict_does_not_leak(batch, compiled, rows):
    X, y = batch
    model = make(mlp(), compiled)
    grew = growth(lambda: model.predict(X[:rows]))
    assert grew < LIMIT, f"RSS grew by {grew / 2**20:.1f} MB over {CALLS} predict calls"


def test_rejected_calls_do_not_leak():
    """Errors raised by the ops (and their tracebacks) are freed too."""
    a = np.ones((8, 8), np.float32)

    def bad():
        for call in (lambda: nf.kernels.matmul(a, a.astype(np.float64)),
                     lambda: nf.kernels.relu(a, out=a[:, :4])):
            try:
                call()
            except (TypeError, ValueError):
                pass

    grew = growth(bad)
    assert grew < LIMIT, f"RSS grew by {grew / 2**20:.1f} MB over {CALLS} rejected calls"
