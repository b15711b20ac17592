"""``nnfast bench``: nnfast's kernels and one training epoch against NumPy, as a table of ratios.

Each row times an nnfast operation and the tightest NumPy code we know for the same result
(preallocated outputs, in-place updates), checks once that both agree, and reports the median
time of each over interleaved rounds (nnfast, NumPy, nnfast, ...: a neighbour's load hits both
alike) and the speedup ``NumPy median / nnfast median``. All in float32. The training row runs
one epoch of ``Sequential.fit`` on a 784-256-128-10 ReLU network (softmax cross-entropy, Adam,
batch 32) against a NumPy training loop of the same network. ``--quick`` (a few seconds) uses
smaller sizes, fewer rounds and no pause between turns (a smoke test: its ratios are rough).
The default run takes well under a minute on an idle machine; other processes holding the
cores slow both sides and make the ratios noisy.
"""

import statistics
import time

import numpy as np

from nnfast.cli import UsageError

NAME = "bench"
ALIASES = ("benchmark",)
HELP = "Time nnfast's kernels and an MLP training epoch against NumPy; print medians and ratios."

MLP = (784, 256, 128, 10)


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 rounds (a few seconds)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds per row (default 5, --quick 3)")


# ---- timing -------------------------------------------------------------------------------

def time_call(fn, min_time):
    """Mean seconds per call of ``fn()`` over a loop of at least ``min_time`` seconds."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            return elapsed / n


def interleaved(candidates, rounds, min_time, gap=0.0):
    """Median seconds per call of each ``{name: fn}``, the candidates taking turns each round.

    Call each once before (the workloads' ``check`` does): first-call allocations, BLAS thread
    start-up and page faults are not timed. ``gap`` seconds of sleep before each turn let the
    previous candidate's BLAS workers stop spinning (NumPy and SciPy each load their own
    OpenBLAS, whose idle threads spin for about 0.1 s and steal the cores from the other's).
    """
    samples = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            if gap:
                time.sleep(gap)
            samples[name].append(time_call(fn, min_time))
    return {name: statistics.median(s) for name, s in samples.items()}


# ---- the workloads: (name, size, nnfast fn, numpy fn, check) ------------------------------

def _agree(a, b, rtol=1e-4, atol=1e-5):
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def matmul_case(rng, n):
    import nnfast as nf

    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    o1, o2 = np.empty((n, n), np.float32), np.empty((n, n), np.float32)
    ours = lambda: nf.kernels.matmul(a, b, out=o1)  # noqa: E731
    theirs = lambda: np.matmul(a, b, out=o2)  # noqa: E731
    return "matmul", f"{n}x{n} @ {n}x{n}", ours, theirs, lambda: _agree(ours(), theirs(), atol=1e-3)


def dense_case(rng, batch, d_in, d_out):
    import nnfast as nf

    x = rng.standard_normal((batch, d_in), np.float32)
    w = (rng.standard_normal((d_in, d_out)) * np.sqrt(2 / d_in)).astype(np.float32)
    bias = rng.standard_normal(d_out, np.float32)
    o1, o2 = np.empty((batch, d_out), np.float32), np.empty((batch, d_out), np.float32)

    def theirs():
        np.matmul(x, w, out=o2)
        np.add(o2, bias, out=o2)
        return np.maximum(o2, 0, out=o2)

    ours = lambda: nf.kernels.dense_forward(x, w, bias, "relu", out=o1)  # noqa: E731
    return ("dense_forward + relu", f"{batch}x{d_in} -> {d_out}", ours, theirs,
            lambda: _agree(ours(), theirs()))


def softmax_xent_case(rng, n, c):
    import nnfast as nf

    logits = rng.standard_normal((n, c), np.float32)
    labels = rng.integers(0, c, n)
    rows = np.arange(n)
    g1, z, e = (np.empty((n, c), np.float32) for _ in range(3))

    def theirs():
        np.subtract(logits, logits.max(axis=1, keepdims=True), out=z)
        np.exp(z, out=e)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[rows, labels]))
        np.divide(e, s, out=e)
        e[rows, labels] -= 1.0
        np.multiply(e, np.float32(1.0 / n), out=e)
        return loss, e

    ours = lambda: nf.kernels.softmax_cross_entropy(logits, labels, out=g1)  # noqa: E731

    def check():
        (l1, d1), (l2, d2) = ours(), theirs()
        return abs(l1 - l2) <= 1e-4 * max(1.0, abs(l2)) and _agree(d1, d2, atol=1e-7)

    return "softmax cross-entropy fwd+bwd", f"{n}x{c}", ours, theirs, check


def adam_case(rng, n, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, step=10):
    import nnfast as nf

    grad = rng.standard_normal(n, np.float32)
    state = [rng.standard_normal(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)]
    p1, m1, v1 = (a.copy() for a in state)
    p2, m2, v2 = (a.copy() for a in state)
    tmp = np.empty(n, np.float32)
    step_size = lr / (1 - b1 ** step)
    bc2 = np.sqrt(1 - b2 ** step)

    def ours():
        nf.kernels.adam_update(p1, grad, m1, v1, step=step, learning_rate=lr)
        return p1

    def theirs():  # torch.optim.Adam's update, in place, one temporary
        np.multiply(m2, b1, out=m2)
        np.multiply(grad, 1 - b1, out=tmp)
        np.add(m2, tmp, out=m2)
        np.multiply(v2, b2, out=v2)
        np.multiply(grad, grad, out=tmp)
        np.multiply(tmp, 1 - b2, out=tmp)
        np.add(v2, tmp, out=v2)
        np.sqrt(v2, out=tmp)
        np.divide(tmp, bc2, out=tmp)
        np.add(tmp, eps, out=tmp)
        np.divide(m2, tmp, out=tmp)
        np.multiply(tmp, step_size, out=tmp)
        return np.subtract(p2, tmp, out=p2)

    def check():
        for ps in ((p1, m1, v1), (p2, m2, v2)):
            for a, s in zip(ps, state):
                np.copyto(a, s)
        return _agree(ours(), theirs(), rtol=1e-5, atol=1e-6)

    return "adam update", f"{n / 1e6:g}M params", ours, theirs, check


def activation_case(rng, name, n):
    import nnfast as nf
    from scipy.special import erf

    x = rng.standard_normal(n, np.float32)
    o1, o2 = np.empty(n, np.float32), np.empty(n, np.float32)
    fn = getattr(nf.kernels, name)
    root_half = np.float32(np.sqrt(0.5))

    def relu():
        return np.maximum(x, 0, out=o2)

    def sigmoid():
        np.negative(x, out=o2)
        np.exp(o2, out=o2)
        np.add(o2, 1, out=o2)
        return np.reciprocal(o2, out=o2)

    def gelu():  # exact: x/2 (1 + erf(x / sqrt 2))
        np.multiply(x, root_half, out=o2)
        erf(o2, out=o2)
        np.add(o2, 1, out=o2)
        np.multiply(o2, x, out=o2)
        return np.multiply(o2, 0.5, out=o2)

    ours = lambda: fn(x, out=o1)  # noqa: E731
    theirs = {"relu": relu, "sigmoid": sigmoid, "gelu": gelu}[name]
    return name, f"{n / 1e6:g}M elements", ours, theirs, lambda: _agree(ours(), theirs())


class NumpyMLP:
    """The NumPy training loop: ReLU MLP, fused softmax cross-entropy gradient, Adam in place."""

    def __init__(self, sizes, seed=0, lr=1e-3):
        rng = np.random.default_rng(seed)
        self.W = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
                  for a, b in zip(sizes, sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.params = self.W + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.t, self.rng = lr, 0, rng

    def step(self, x, y):
        acts = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W
            z += b
            if i < len(self.W) - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
        n, dz = x.shape[0], acts[-1]
        dz -= dz.max(axis=1, keepdims=True)
        np.exp(dz, out=dz)
        dz /= dz.sum(axis=1, keepdims=True)
        dz[np.arange(n), y] -= 1
        dz /= n
        grads = [None] * len(self.params)
        for i in range(len(self.W) - 1, -1, -1):
            grads[i] = acts[i].T @ dz
            grads[len(self.W) + i] = dz.sum(axis=0)
            if i:
                dz = dz @ self.W[i].T
                dz *= acts[i] > 0
        self.t += 1
        step = self.lr / (1 - 0.9 ** self.t)
        bc2 = np.sqrt(1 - 0.999 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * (g * g)
            denom = np.sqrt(v)
            denom /= bc2
            denom += 1e-8
            p -= step * (m / denom)

    def epoch(self, X, y, batch_size):
        order = self.rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            rows = order[s:s + batch_size]
            self.step(X[rows], y[rows])


def training_case(rng, n, batch_size=32):
    import nnfast as nf

    X = rng.random((n, MLP[0]), dtype=np.float32)  # MNIST-like pixels in [0, 1)
    y = rng.integers(0, MLP[-1], n)
    model = nf.Sequential([nf.layers.Dense(h, activation="relu", kernel_initializer="he_normal")
                           for h in MLP[1:-1]] + [nf.layers.Dense(MLP[-1], activation="softmax")],
                          input_dim=MLP[0], seed=0)
    model.compile(optimizer=nf.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    numpy_mlp = NumpyMLP(MLP)
    ours = lambda: model.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)  # noqa: E731
    theirs = lambda: numpy_mlp.epoch(X, y, batch_size)  # noqa: E731

    def check():  # one epoch each; nnfast's training loss is finite and below chance level
        ours(), theirs()
        return bool(model.history.history["loss"][-1] < 1.1 * np.log(MLP[-1]))

    sizes = "-".join(map(str, MLP))
    return f"MLP fit, 1 epoch (batch {batch_size})", f"{sizes}, {n} samples", ours, theirs, check


def workloads(quick):
    rng = np.random.default_rng(0)
    n_act = 1_000_000 if quick else 4_000_000
    yield lambda: matmul_case(rng, 256 if quick else 512)
    yield lambda: dense_case(rng, 256, 784, 256)
    yield lambda: softmax_xent_case(rng, 1024 if quick else 4096, 100)
    yield lambda: adam_case(rng, 1_000_000)
    for name in ("relu", "sigmoid", "gelu"):
        yield lambda name=name: activation_case(rng, name, n_act)
    yield lambda: training_case(rng, 512 if quick else 4096)


# ---- the table ----------------------------------------------------------------------------

def _fmt(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def run(args):
    import nnfast as nf

    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 5)
    if rounds < 1:
        raise UsageError(f"Expected --rounds >= 1, received: --rounds {rounds}")
    min_time, gap = (0.01, 0.0) if args.quick else (0.05, 0.1)
    print(f"nnfast {nf.__version__} vs NumPy {np.__version__}, float32, {nf.get_num_threads()} "
          f"threads; median of {rounds} interleaved rounds; speedup = NumPy / nnfast")
    widths = (30, 26, 12, 12, 9, 7)
    head = ("benchmark", "size", "nnfast", "NumPy", "speedup", "check")
    print("".join(f"{h:<{w}}" if i < 2 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(head, widths))))
    print("-" * sum(widths))
    ratios = []
    for make in workloads(args.quick):
        name, size, ours, theirs, check = make()
        ok = check()  # also the warm-up call of both
        # an epoch is long enough to time once per round; kernels loop for min_time
        t = interleaved({"nnfast": ours, "numpy": theirs}, rounds,
                        0.0 if name.startswith("MLP") else min_time, gap)
        ratio = t["numpy"] / t["nnfast"]
        ratios.append(ratio)
        print(f"{name:<30}{size:<26}{_fmt(t['nnfast']):>12}{_fmt(t['numpy']):>12}"
              f"{ratio:>8.2f}x{'ok' if ok else 'DIFF':>7}", flush=True)
    geo = float(np.exp(np.mean(np.log(ratios))))
    print("-" * sum(widths))
    print(f"geometric mean speedup: {geo:.2f}x")
    return 0
