"""Python threads: separate models, one shared model, and the GIL released inside kernels.

* 8 threads, each fitting and predicting with its own model, get bit-for-bit what the same
  models give one after the other (same seeds, same thread count).
* 8 threads predicting with one shared model, over and over, each get the serial answer
  every time: through the compiled plan (a compiled model) and through the layers (a model
  that is not compiled, with softmax/gelu layers that keep scratch buffers).
* A pure-Python counting thread keeps counting while another thread is inside kernels (a
  large matmul, two epochs of fit): the kernels release the GIL. The same probe around a C
  loop that holds the GIL (``sum(range(n))``) shows the counter stopped, so it can tell.
"""

import threading
import time

import numpy as np
import pytest

import nnfast as nf
from helpers import threads

N_THREADS = 8


def data(n=200, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)


def make(seed, compiled=True):
    model = nf.Sequential([
        nf.layers.Dense(16, activation="gelu"),
        nf.layers.Dropout(0.1),
        nf.layers.Dense(3, activation="softmax"),
    ], input_dim=12, seed=seed)
    if compiled:
        model.compile(nf.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    return model


def run_in_threads(target, n):
    """Run ``target(i)`` for i in range(n) in n threads started together; results by index."""
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in pool), "a thread hung"
    if errors:
        raise errors[0]
    return results


def train_and_predict(seed):
    X, y = data()
    model = make(seed)
    history = model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    return model.get_weights(), model.predict(X), history.history["loss"]


def test_separate_models_in_threads_equal_serial_runs():
    serial = [train_and_predict(i) for i in range(N_THREADS)]
    threaded = run_in_threads(train_and_predict, N_THREADS)
    for i, ((w1, p1, l1), (w2, p2, l2)) in enumerate(zip(serial, threaded)):
        assert l1 == l2, f"model {i}: losses differ"
        for a, b in zip(w1, w2):
            np.testing.assert_array_equal(a, b, err_msg=f"model {i}")
        np.testing.assert_array_equal(p1, p2, err_msg=f"model {i}")


@pytest.mark.parametrize("compiled", [True, False], ids=["plan", "layers"])
def test_one_shared_model_predicting_in_threads(compiled):
    X, y = data()
    model = make(3, compiled)
    if compiled:
        model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    rng = np.random.default_rng(1)
    # different batch sizes per thread (1 row, a few, more than one predict chunk)
    inputs = [rng.normal(size=(int(n), 12)).astype(np.float32)
              for n in (1, 3, 17, 64, 1, 200, 1500, 33)]
    expected = [model.predict(x) for x in inputs]

    def many_predicts(i):
        bad = 0
        for _ in range(30 if inputs[i].shape[0] < 1000 else 4):
            bad += not np.array_equal(model.predict(inputs[i]), expected[i])
        return bad

    wrong = run_in_threads(many_predicts, N_THREADS)
    assert wrong == [0] * N_THREADS, f"wrong predictions per thread: {wrong}"


# ------------------------------------------------------------------------------ the GIL


class Counter:
    """A thread counting in pure Python (it needs the GIL for every step)."""

    def __init__(self):
        self.count, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for _ in range(200):
                self.count += 1

    def __enter__(self):
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def rate_during(self, call):
        """Counts per second while this thread runs ``call()`` (one call, not a loop: a call
        that holds the GIL lets the counter run only before it starts, as C code never
        offers the GIL to other threads)."""
        c0, t0 = self.count, time.perf_counter()
        call()
        c1, t1 = self.count, time.perf_counter()
        return (c1 - c0) / (t1 - t0), t1 - t0


def gil_ratio(call):
    """The counter's rate during ``call()`` over its rate while this thread sleeps (best of 3:
    other processes on the machine only ever lower it)."""
    best = 0.0
    with Counter() as counter:
        for _ in range(3):
            busy, seconds = counter.rate_during(call)
            solo, _ = counter.rate_during(lambda: time.sleep(seconds))
            best = max(best, busy / solo)
            if best > 0.3:
                break
    return best


def test_the_gil_probe_sees_a_call_that_holds_the_gil():
    """Control: ``sum(range(n))`` is a C loop holding the GIL; the counter nearly stops."""
    assert gil_ratio(lambda: sum(range(10_000_000))) < 0.15


def test_gil_is_released_during_a_large_matmul():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 2000)).astype(np.float32)
    out = np.empty_like(a)
    with threads(1):  # one core for the kernel, one left for the counter
        ratio = gil_ratio(lambda: nf.kernels.matmul(a, a, out=out))  # one nogil call, ~0.15 s
    assert ratio > 0.3, f"the counter ran at {ratio:.0%} of its solo rate during matmul"


def test_gil_is_released_during_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = nf.Sequential([nf.layers.Dense(256, activation="relu"),
                           nf.layers.Dense(2, activation="softmax")], input_dim=64, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    with threads(1):
        ratio = gil_ratio(lambda: model.fit(X, y, epochs=2, batch_size=64, verbose=0))
    assert ratio > 0.3, f"the counter ran at {ratio:.0%} of its solo rate during fit"
