"""The compiled training plan (nnfast._plan) against the model's own per-layer Python path.

Two copies of the same model (same seed: same initial weights, same shuffles, same dropout
seeds): one trained with ``Sequential.fit`` on its per-layer path (``_use_plan = False``), one
with ``compile_plan`` + ``train_chunk`` driven by the same epoch loop. Weights, optimizer state, per-epoch losses and accuracies must agree to
float rounding (in practice to the bit: the plan calls the same kernels with the same shapes).
"""

import numpy as np
import pytest

import nnfast as nf
import nnfast._plan
from helpers import central_difference, threads
from nnfast._plan import compile_plan

R = nf.regularizers

DTYPES = ("float64", "float32")
TOL = {"float64": dict(rtol=1e-12, atol=1e-13), "float32": dict(rtol=2e-5, atol=2e-6)}


def plan_fit(model, X, y, *, epochs, batch_size, shuffle=True, sample_weight=None, chunk=None):
    """``model.fit`` (no validation, no callbacks) through the plan; per-epoch history."""
    X, T, M, W = model._data(X, y, sample_weight)
    n = X.shape[0]
    bs = min(batch_size, n)
    steps = -(-n // bs)
    plan = compile_plan(model, bs)
    assert plan is not None
    chunk = chunk or steps
    order = np.arange(n, dtype=np.int64)
    sizes = np.minimum(bs, n - np.arange(steps) * bs)
    losses, correct = np.empty(steps), np.empty(steps)
    history = {"loss": [], "accuracy": []}
    for _ in range(epochs):
        if shuffle:
            order[:] = np.arange(n)
            model._rng.shuffle(order)
        for b in range(0, steps, chunk):
            k = min(chunk, steps - b)
            lrs = plan.learning_rates(k)
            plan.train_chunk(X, T, W, order if shuffle else None, b, k, bs, lrs, losses[b:],
                             correct[b:] if plan.counts_correct else None)
        history["loss"].append(float((losses * sizes).sum() / n))
        if plan.counts_correct:
            history["accuracy"].append(float(correct.sum() / n))
    return history


def data(n=101, d=5, kind="sparse", k=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "sparse":
        return X, rng.integers(0, k, n)
    if kind == "onehot":
        return X, np.eye(k)[rng.integers(0, k, n)]
    if kind == "binary":
        return X, (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(float)
    return X, X[:, :k] @ rng.normal(size=(k, k)) + 0.1 * rng.normal(size=(n, k))


# (name, layers factory, loss, optimizer factory, data kind, output width, fit options)
CONFIGS = [
    ("softmax-adam", lambda: [nf.layers.Dense(16, activation="relu"),
                              nf.layers.Dense(8, activation="tanh"),
                              nf.layers.Dense(3, activation="softmax")],
     "sparse_categorical_crossentropy", lambda: nf.optimizers.Adam(1e-2), "sparse", 3, {}),
    ("dropout-adamw-schedule", lambda: [nf.layers.Dense(16, activation="elu"),
                                        nf.layers.Dropout(0.3),
                                        nf.layers.Dense(3, activation="softmax")],
     "sparse_categorical_crossentropy",
     lambda: nf.optimizers.AdamW(nf.schedules.CosineDecay(1e-2, 20)), "sparse", 3, {}),
    ("onehot-smoothing-activation-layer", lambda: [nf.layers.Dense(12, activation="swish"),
                                                   nf.layers.Dense(3),
                                                   nf.layers.Activation("softmax")],
     nf.losses.CategoricalCrossentropy(label_smoothing=0.1),
     lambda: nf.optimizers.RMSprop(1e-2, momentum=0.5), "onehot", 3, {}),
    ("sigmoid-sgd-nesterov-weights", lambda: [nf.layers.Dense(10, activation="leaky_relu"),
                                              nf.layers.Dense(1, activation="sigmoid")],
     "binary_crossentropy",
     lambda: nf.optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), "binary",
     1, {"sample_weight": True}),
    ("logits-bce-noshuffle", lambda: [nf.layers.Dense(10, activation="softplus"),
                                      nf.layers.Dense(1)],
     nf.losses.BinaryCrossentropy(from_logits=True), lambda: nf.optimizers.Adam(1e-2),
     "binary", 1, {"shuffle": False}),
    ("mse-gelu-rmsprop", lambda: [nf.layers.Dense(12, activation="gelu"),
                                  nf.layers.Dense(3, use_bias=False)],
     "mse", lambda: nf.optimizers.RMSprop(1e-2), "regression", 3, {}),
    ("huber-sigmoid-hidden", lambda: [nf.layers.Dense(9, activation="sigmoid"),
                                      nf.layers.Dense(3)],
     nf.losses.Huber(0.5), lambda: nf.optimizers.SGD(0.05), "regression", 3, {}),
    ("mae-softmax-output", lambda: [nf.layers.Dense(7, activation="relu"),
                                    nf.layers.Dense(3, activation="softmax")],
     "mae", lambda: nf.optimizers.Adam(1e-2), "onehot", 3, {}),
    # regularizers: penalties in the loss, their gradients before the update
    ("l2-kernel-bias-adam", lambda: [nf.layers.Dense(16, activation="relu",
                                                     kernel_regularizer=R.l2(1e-2),
                                                     bias_regularizer=R.l2(1e-3)),
                                     nf.layers.Dense(3, activation="softmax",
                                                     kernel_regularizer=R.l2(1e-2))],
     "sparse_categorical_crossentropy", lambda: nf.optimizers.Adam(1e-2), "sparse", 3, {}),
    ("l1-dropout-sgd-noshuffle", lambda: [nf.layers.Dense(12, activation="tanh",
                                                          kernel_regularizer=R.l1(1e-2),
                                                          bias_regularizer=R.l1(1e-2)),
                                          nf.layers.Dropout(0.25),
                                          nf.layers.Dense(3, activation="softmax",
                                                          bias_regularizer=R.l1(1e-3))],
     nf.losses.CategoricalCrossentropy(label_smoothing=0.05),
     lambda: nf.optimizers.SGD(0.05, momentum=0.9), "onehot", 3, {"shuffle": False}),
    ("l1l2-mse-rmsprop-weights", lambda: [nf.layers.Dense(10, activation="gelu",
                                                          kernel_regularizer=R.l1_l2(1e-3, 1e-2),
                                                          bias_regularizer=R.l1_l2(1e-2, 1e-2)),
                                          nf.layers.Dense(3, use_bias=False,
                                                          kernel_regularizer=R.l1_l2(1e-2,
                                                                                     1e-3))],
     "mse", lambda: nf.optimizers.RMSprop(1e-2), "regression", 3, {"sample_weight": True}),
    # normalization: gamma/beta in the flat buffer, BN's moving statistics in the state buffer
    ("batchnorm-dropout-l2-adam", lambda: [nf.layers.Dense(16, activation="relu",
                                                           kernel_regularizer=R.l2(1e-3)),
                                           nf.layers.BatchNormalization(),
                                           nf.layers.Dropout(0.2),
                                           nf.layers.Dense(3, activation="softmax")],
     "sparse_categorical_crossentropy", lambda: nf.optimizers.Adam(1e-2), "sparse", 3, {}),
    ("batchnorm-first-sgd-weights", lambda: [nf.layers.BatchNormalization(momentum=0.8),
                                             nf.layers.Dense(12, activation="tanh"),
                                             nf.layers.BatchNormalization(epsilon=1e-2),
                                             nf.layers.Dense(3, activation="softmax")],
     nf.losses.CategoricalCrossentropy(label_smoothing=0.1),
     lambda: nf.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "onehot", 3,
     {"sample_weight": True}),
    ("layernorm-activation-rmsprop-noshuffle", lambda: [nf.layers.Dense(12),
                                                        nf.layers.LayerNormalization(),
                                                        nf.layers.Activation("gelu"),
                                                        nf.layers.Dropout(0.1),
                                                        nf.layers.Dense(3)],
     "mse", lambda: nf.optimizers.RMSprop(1e-2, momentum=0.5), "regression", 3,
     {"shuffle": False}),
    ("layernorm-first-batchnorm-sigmoid-adamw", lambda: [nf.layers.LayerNormalization(epsilon=1e-5),
                                                         nf.layers.Dense(10, activation="relu",
                                                                         bias_regularizer=R.l1(1e-3)),
                                                         nf.layers.BatchNormalization(momentum=0.9),
                                                         nf.layers.Dropout(0.3),
                                                         nf.layers.Dense(1, activation="sigmoid")],
     "binary_crossentropy", lambda: nf.optimizers.AdamW(1e-2, weight_decay=1e-2), "binary", 1,
     {"sample_weight": True}),
]


def twins(layers, loss, optimizer, dtype, d=5):
    models = []
    for _ in range(2):
        m = nf.Sequential(layers(), input_dim=d, dtype=dtype, seed=7)
        m.compile(optimizer=optimizer(), loss=loss, metrics=["accuracy"])
        models.append(m)
    models[0]._use_plan = False  # the reference: the layers' own Python path
    return models


@pytest.fixture(params=["serial", "team"])
def path(request, monkeypatch):
    """The plan's serial path (BLAS's own threads) or its one-region thread team (2 threads,
    forced even for small models)."""
    if request.param == "serial":
        monkeypatch.setattr(nnfast._plan, "_TEAM", False)
        yield request.param
    else:
        monkeypatch.setattr(nnfast._plan, "_TEAM", True)
        monkeypatch.setattr(nnfast._plan, "_TEAM_MIN_WORK", 0)
        with threads(2):
            yield request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,layers,loss,optimizer,kind,k,opts", CONFIGS,
                         ids=[c[0] for c in CONFIGS])
def test_plan_matches_python_path(dtype, name, layers, loss, optimizer, kind, k, opts, path):
    X, y = data(kind=kind, k=k)
    sw = np.random.default_rng(3).uniform(0.2, 2.0, X.shape[0]) if opts.get("sample_weight") else None
    shuffle = opts.get("shuffle", True)
    a, b = twins(layers, loss, optimizer, dtype)
    hist = a.fit(X, y, epochs=3, batch_size=16, shuffle=shuffle, sample_weight=sw, verbose=0)
    ours = plan_fit(b, X, y, epochs=3, batch_size=16, shuffle=shuffle, sample_weight=sw)
    tol = TOL[dtype]
    np.testing.assert_allclose(ours["loss"], hist.history["loss"], **tol)
    if ours["accuracy"]:
        np.testing.assert_allclose(ours["accuracy"], hist.history["accuracy"])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert wb.dtype == np.dtype(dtype)
        np.testing.assert_allclose(wb, wa, **tol)
    for key, state in a.optimizer.slots.items():
        np.testing.assert_allclose(b.optimizer.slots[key], state, **tol)
    np.testing.assert_allclose(b._store.state, a._store.state, **tol)  # moving statistics
    assert a.optimizer.iterations == b.optimizer.iterations == 3 * 7
    np.testing.assert_allclose(b.predict(X), a.predict(X), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_chunking_does_not_change_results(dtype, path):
    X, y = data()
    cfg = CONFIGS[1]
    a, b = twins(cfg[1], cfg[2], cfg[3], dtype)
    ha = plan_fit(a, X, y, epochs=2, batch_size=10, chunk=None)
    hb = plan_fit(b, X, y, epochs=2, batch_size=10, chunk=3)
    assert ha == hb
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def _config(name):
    return next(c for c in CONFIGS if c[0] == name)


# (config, frozen layer indices)
FROZEN = [("softmax-adam", (0, 1)), ("l2-kernel-bias-adam", (0,)),
          ("l1l2-mse-rmsprop-weights", (1,)),
          ("batchnorm-dropout-l2-adam", (0,)),               # BN first trainable: no dx
          ("layernorm-activation-rmsprop-noshuffle", (1,)),  # frozen LN between trainables
          ("layernorm-first-batchnorm-sigmoid-adamw", (0, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,frozen", FROZEN, ids=["-".join(map(str, (f[0],) + f[1])) for f in FROZEN])
def test_frozen_layer_is_not_updated(dtype, name, frozen, path):
    """Frozen layers keep their weights (a frozen BatchNormalization its moving statistics
    too) and their regularizers add no penalty (as in the per-layer path, which regularizes
    the trainable layers only)."""
    _, layers, loss, optimizer, kind, k, _ = _config(name)
    X, y = data(kind=kind, k=k)
    a, b = twins(layers, loss, optimizer, dtype)
    for m in (a, b):
        for i in frozen:
            m._layers[i].trainable = False
    before = [b._layers[i].get_weights() for i in frozen]
    hist = a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    ours = plan_fit(b, X, y, epochs=2, batch_size=16)
    np.testing.assert_allclose(ours["loss"], hist.history["loss"], **TOL[dtype])
    for i, old in zip(frozen, before):
        for w_old, w_new in zip(old, b._layers[i].get_weights()):
            np.testing.assert_array_equal(w_new, w_old)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["batchnorm-dropout-l2-adam", "batchnorm-first-sgd-weights",
                                  "layernorm-first-batchnorm-sigmoid-adamw"])
def test_frozen_batch_norm_runs_in_inference_mode(dtype, name, path):
    """Trained a first epoch, then frozen: a BatchNormalization normalizes with its moving
    statistics (which stay as they were, with gamma and beta) in training too, as Keras's."""
    _, layers, loss, optimizer, kind, k, _ = _config(name)
    X, y = data(kind=kind, k=k)
    a, b = twins(layers, loss, optimizer, dtype)
    a.fit(X, y, epochs=1, batch_size=16, verbose=0)
    plan_fit(b, X, y, epochs=1, batch_size=16)
    norms = [i for i, l in enumerate(b._layers) if type(l) is nf.layers.BatchNormalization]
    for m in (a, b):
        for i in norms:
            m._layers[i].trainable = False
    before = [b._layers[i].get_weights() for i in norms]
    assert not np.array_equal(before[0][2], np.zeros_like(before[0][2]))  # moved in epoch 1
    hist = a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    ours = plan_fit(b, X, y, epochs=2, batch_size=16)
    np.testing.assert_allclose(ours["loss"], hist.history["loss"], **TOL[dtype])
    for i, old in zip(norms, before):
        for w_old, w_new in zip(old, b._layers[i].get_weights()):
            np.testing.assert_array_equal(w_new, w_old)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **TOL[dtype])
    np.testing.assert_allclose(b.predict(X), a.predict(X), **TOL[dtype])


def test_batch_norm_moving_statistics_follow_keras_momentum():
    """One full-batch step: moving = momentum·moving + (1 - momentum)·(batch mean, biased
    variance), from the initial (0, 1)."""
    X, y = data(n=40)
    m = nf.Sequential([nf.layers.BatchNormalization(momentum=0.75),
                       nf.layers.Dense(3, activation="softmax")], input_dim=5, dtype="float64",
                      seed=0)
    m.compile(nf.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    m.build()
    plan = compile_plan(m, 40)
    Xc, T, _, _ = m._data(X, y)
    plan.train_chunk(Xc, T, None, None, 0, 1, 40, plan.learning_rates(1), np.empty(1))
    _, _, mean, var = m._layers[0].get_weights()
    np.testing.assert_allclose(mean, 0.25 * X.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, 0.75 + 0.25 * X.var(0), rtol=1e-12)


class BatchLosses(nf.callbacks.Callback):
    """Every batch's loss as the per-layer path reports it (``logs["batch_loss"]``)."""

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["batch_loss"])


def plan_steps(model, X, y, *, epochs, batch_size, sample_weight=None):
    """Every step's loss through the plan, one chunk per epoch, shuffled as ``fit`` does."""
    X, T, _, W = model._data(X, y, sample_weight)
    n = X.shape[0]
    steps = -(-n // batch_size)
    plan = compile_plan(model, batch_size)
    order = np.arange(n, dtype=np.int64)
    out = []
    for _ in range(epochs):
        order[:] = np.arange(n)
        model._rng.shuffle(order)
        losses = np.empty(steps)
        plan.train_chunk(X, T, W, order, 0, steps, batch_size, plan.learning_rates(steps), losses)
        out.extend(losses.tolist())
    return out


BITWISE = ["l2-kernel-bias-adam", "l1-dropout-sgd-noshuffle", "l1l2-mse-rmsprop-weights",
           "batchnorm-dropout-l2-adam", "batchnorm-first-sgd-weights",
           "layernorm-activation-rmsprop-noshuffle", "layernorm-first-batchnorm-sigmoid-adamw"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BITWISE)
def test_plan_is_bit_identical_to_the_python_path_on_one_thread(dtype, name):
    """Same kernels, same order: every batch loss (penalties included), weight, optimizer
    state and moving statistic agrees to the last bit (serial path, one thread)."""
    _, layers, loss, optimizer, kind, k, opts = _config(name)
    X, y = data(kind=kind, k=k)
    sw = np.random.default_rng(3).uniform(0.2, 2.0, X.shape[0]) if opts.get("sample_weight") else None
    a, b = twins(layers, loss, optimizer, dtype)
    cb = BatchLosses()
    with threads(1):
        a.fit(X, y, epochs=2, batch_size=16, sample_weight=sw, callbacks=[cb], verbose=0)
        ours = plan_steps(b, X, y, epochs=2, batch_size=16, sample_weight=sw)
    assert ours == cb.losses
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wb, wa)
    for key, state in a.optimizer.slots.items():
        np.testing.assert_array_equal(b.optimizer.slots[key], state)
    np.testing.assert_array_equal(b._store.state, a._store.state)


def test_regularizer_penalty_is_in_the_loss():
    """One step on a batch: the plan's loss minus the unregularized model's loss is the
    penalty of the weights before the step."""
    X, y = data(n=32)
    made = []
    for reg in (R.l1_l2(1e-2, 1e-1), None):
        m = nf.Sequential([nf.layers.Dense(6, activation="relu", kernel_regularizer=reg,
                                           bias_regularizer=reg),
                           nf.layers.Dense(3, activation="softmax", kernel_regularizer=reg)],
                          input_dim=5, dtype="float64", seed=4)
        m.compile(nf.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        m.build()
        made.append(m)
    reg_model, plain = made
    w0 = reg_model.get_weights()
    expected = sum(1e-2 * np.abs(w).sum() + 1e-1 * np.square(w).sum() for w in w0[:3])
    losses = []
    for m in made:
        Xc, T, _, _ = m._data(X, y)
        out = np.empty(1)
        plan = compile_plan(m, 32)
        plan.train_chunk(Xc, T, None, None, 0, 1, 32, plan.learning_rates(1), out)
        losses.append(out[0])
    np.testing.assert_allclose(losses[0] - losses[1], expected, rtol=1e-12)
    # the regularized step moved the weights by the penalty's gradient too
    moved = [a - b for a, b in zip(w0, reg_model.get_weights())]
    plain_moved = [a - b for a, b in zip(w0, plain.get_weights())]
    for i in range(3):
        np.testing.assert_allclose(moved[i] - plain_moved[i],
                                   0.1 * (1e-2 * np.sign(w0[i]) + 2 * 1e-1 * w0[i]), atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_step_equals_train_on_batch(dtype):
    X, y = data(n=40, kind="binary")
    cfg = CONFIGS[3]
    a, b = twins(cfg[1], cfg[2], cfg[3], dtype)
    expected = a.train_on_batch(X, y)
    Xc, T, _, W = b._data(X, y)
    plan = compile_plan(b, 40)
    losses, correct = np.empty(1), np.empty(1)
    plan.train_chunk(Xc, T, W, None, 0, 1, 40, plan.learning_rates(1), losses, correct)
    np.testing.assert_allclose(losses[0], expected, **TOL[dtype])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,layers,loss,optimizer,kind,k,opts", CONFIGS,
                         ids=[c[0] for c in CONFIGS])
def test_train_on_batch_runs_the_plan_with_the_python_paths_results(dtype, name, layers, loss,
                                                                    optimizer, kind, k, opts):
    """Sequential.train_on_batch steps through the plan when it runs the model: batches of
    changing size (the plan grows once), sample weights, an interleaved fit; every loss,
    weight, optimizer state and moving statistic as on the per-layer path."""
    X, y = data(kind=kind, k=k)
    sw = np.random.default_rng(3).uniform(0.2, 2.0, X.shape[0]) if opts.get("sample_weight") else None
    a, b = twins(layers, loss, optimizer, dtype)
    tol = TOL[dtype]
    for lo, hi in [(0, 17), (17, 57), (57, 80), (0, 101), (30, 31)]:
        w = None if sw is None else sw[lo:hi]
        la, lb = a.train_on_batch(X[lo:hi], y[lo:hi], w), b.train_on_batch(X[lo:hi], y[lo:hi], w)
        assert type(lb) is float
        np.testing.assert_allclose(lb, la, **tol)
    assert b._plan is not None and b._plan.batch_size == 101
    ha = a.fit(X, y, epochs=1, batch_size=16, sample_weight=sw, verbose=0)
    hb = b.fit(X, y, epochs=1, batch_size=16, sample_weight=sw, verbose=0)
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], **tol)
    np.testing.assert_allclose(b.train_on_batch(X[:9], y[:9]), a.train_on_batch(X[:9], y[:9]),
                               **tol)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **tol)
    for key, state in a.optimizer.slots.items():
        np.testing.assert_allclose(b.optimizer.slots[key], state, **tol)
    np.testing.assert_allclose(b._store.state, a._store.state, **tol)
    assert a.optimizer.iterations == b.optimizer.iterations == 5 + 7 + 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_on_batch_is_bit_identical_on_one_thread(dtype):
    _, layers, loss, optimizer, kind, k, opts = _config("batchnorm-dropout-l2-adam")
    X, y = data(kind=kind, k=k)
    a, b = twins(layers, loss, optimizer, dtype)
    with threads(1):
        for lo in range(0, 101, 25):
            assert b.train_on_batch(X[lo:lo + 25], y[lo:lo + 25]) == \
                a.train_on_batch(X[lo:lo + 25], y[lo:lo + 25])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wb, wa)


def test_train_on_batch_falls_back_where_the_plan_does_not_run():
    """A custom layer class is not in the plan: train_on_batch keeps the per-layer path."""
    X, y = data(k=3)
    custom = type("MyDense", (nf.layers.Dense,), {})
    m = nf.Sequential([custom(3, activation="softmax")], input_dim=5, seed=0)
    m.compile(nf.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    first = m.train_on_batch(X, y)
    for _ in range(20):
        last = m.train_on_batch(X, y)
    assert m._plan is None and last < first


def test_gradient_matches_central_differences():
    """SGD with lr 1 on one full batch moves the weights by exactly -dL/dw."""
    X, y = data(n=12, k=3)
    layers = lambda: [nf.layers.Dense(6, activation="tanh"), nf.layers.Dense(3, activation="softmax")]
    model = nf.Sequential(layers(), input_dim=5, dtype="float64", seed=2)
    model.compile(optimizer=nf.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    w0 = model.get_weights()
    plan = compile_plan(model, 12)
    Xc, T, _, _ = model._data(X, y)
    plan.train_chunk(Xc, T, None, None, 0, 1, 12, np.ones(1), np.empty(1))
    grads = [a - b for a, b in zip(w0, model.get_weights())]
    probe = nf.Sequential(layers(), input_dim=5, dtype="float64", seed=2)
    probe.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for i in range(len(w0)):
        def loss_at(wi, i=i):
            ws = [w.copy() for w in w0]
            ws[i] = wi
            probe.set_weights(ws)
            return probe.evaluate(X, y)["loss"]
        np.testing.assert_allclose(grads[i], central_difference(loss_at, w0[i]), rtol=1e-6,
                                   atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 1500])
def test_predict_matches_model(dtype, n):
    X = np.random.default_rng(0).normal(size=(n, 5)).astype(dtype)
    for layers in ([nf.layers.Dense(9, activation="gelu"), nf.layers.Dropout(0.5),
                    nf.layers.Dense(4, activation="softmax")],
                   [nf.layers.Dense(9, activation="relu"), nf.layers.Activation("tanh"),
                    nf.layers.Dense(2), nf.layers.Dropout(0.2)],
                   [nf.layers.BatchNormalization(), nf.layers.Dense(9, activation="relu"),
                    nf.layers.BatchNormalization(epsilon=0.1), nf.layers.Dropout(0.3),
                    nf.layers.Dense(4, activation="softmax")],
                   [nf.layers.LayerNormalization(), nf.layers.Dense(6, activation="elu"),
                    nf.layers.LayerNormalization(epsilon=1e-5), nf.layers.Dense(2)]):
        model = nf.Sequential(layers, input_dim=5, dtype=dtype, seed=0)
        model.compile("adam", "mse")
        model.build()
        rng = np.random.default_rng(1)  # gammas, betas and moving statistics away from 1, 0
        store = model._store
        store.params[:] = rng.normal(size=store.params.shape)
        store.state[:] = rng.uniform(0.5, 2.0, store.state.shape)
        model._use_plan = False  # model.predict: the per-layer path
        plan = compile_plan(model, 32)
        out = np.empty((n, model.output_dim), dtype)
        assert plan.predict(X, out) is out
        np.testing.assert_allclose(out, model.predict(X), **TOL[dtype])


def test_thread_count_invariance(monkeypatch):
    monkeypatch.setattr(nnfast._plan, "_TEAM", True)
    monkeypatch.setattr(nnfast._plan, "_TEAM_MIN_WORK", 0)
    X, y = data(n=700, d=40, k=10, seed=4)
    results = []
    for nt in (1, 2):
        with threads(nt):
            m = nf.Sequential([nf.layers.Dense(300, activation="relu"),
                               nf.layers.Dense(10, activation="softmax")], input_dim=40,
                              dtype="float64", seed=0)
            m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
            h = plan_fit(m, X, y, epochs=1, batch_size=256)
            results.append((h, m.get_weights()))
    np.testing.assert_allclose(results[0][0]["loss"], results[1][0]["loss"], rtol=1e-12)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threads(2):  # the team path hands BLAS its thread count back
        before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        plan_fit(m, X, y, epochs=1, batch_size=256)
        after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before
    for wa, wb in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)


def _model(layers, loss="sparse_categorical_crossentropy", optimizer="adam"):
    m = nf.Sequential(layers, input_dim=5, seed=0)
    m.compile(optimizer=optimizer, loss=loss)
    m.build()
    return m


@pytest.mark.parametrize("make", [
    lambda: _model([nf.layers.Dense(4), type("MyBN", (nf.layers.BatchNormalization,), {})(),
                    nf.layers.Dense(3, activation="softmax")]),
    lambda: _model([nf.layers.Dense(4), type("MyLN", (nf.layers.LayerNormalization,), {})(),
                    nf.layers.Dense(3, activation="softmax")]),
    lambda: _model([nf.layers.Dense(3, activation="softmax",
                                    kernel_regularizer=type("MyL2", (R.L2,), {})(1e-3))]),
    lambda: _model([nf.layers.Dense(1, activation="relu")], loss="binary_crossentropy"),
    lambda: _model([nf.layers.Dense(3, activation="relu")], loss="categorical_crossentropy"),
    lambda: _model([type("MyDense", (nf.layers.Dense,), {})(3, activation="softmax")]),
], ids=["batchnorm-subclass", "layernorm-subclass", "custom-regularizer", "bce-on-probs", "cce-on-probs", "dense-subclass"])
def test_unsupported_models_fall_back(make):
    assert compile_plan(make(), 32) is None


def test_not_compiled_or_not_built_gives_none():
    m = nf.Sequential([nf.layers.Dense(3)], input_dim=5)
    m.build()
    assert compile_plan(m, 8) is None
    m = nf.Sequential([nf.layers.Dense(3)])
    m.compile("adam", "mse")
    assert compile_plan(m, 8) is None


def test_frozen_custom_regularized_layer_is_supported():
    m = _model([nf.layers.Dense(4, kernel_regularizer=type("MyL2", (R.L2,), {})(1e-3)),
                nf.layers.Dense(3, activation="softmax")])
    m._layers[0].trainable = False
    assert compile_plan(m, 8) is not None
    m._layers[0].trainable = True
    assert compile_plan(m, 8) is None


def test_a_changed_regularizer_strength_is_used():
    """Strengths are read again before each chunk (the scikit-learn estimators set them
    before each training call)."""
    X, y = data()
    cfg = _config("l2-kernel-bias-adam")
    a, b = twins(cfg[1], cfg[2], cfg[3], "float64")
    plans = set()
    for strength in (1e-2, 0.5):
        for m in (a, b):
            m._layers[0].kernel_regularizer.l2 = strength
        hist = a.fit(X, y, epochs=1, batch_size=16, verbose=0)
        ours = b.fit(X, y, epochs=1, batch_size=16, verbose=0)  # the model's plan, kept
        plans.add(id(b._plan))
        np.testing.assert_allclose(ours.history["loss"], hist.history["loss"], **TOL["float64"])
    assert len(plans) == 1 and a._plan is None
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **TOL["float64"])


def test_built_in_regularizers_are_supported():
    for reg in (R.l1(1e-3), R.l2(1e-3), R.l1_l2(1e-3, 1e-3), R.Regularizer()):
        m = _model([nf.layers.Dense(4, kernel_regularizer=reg, bias_regularizer=reg),
                    nf.layers.Dense(3, activation="softmax", kernel_regularizer=reg)])
        assert compile_plan(m, 8) is not None


def test_bad_arguments_raise():
    m = _model([nf.layers.Dense(3, activation="softmax")])
    plan = compile_plan(m, 8)
    X, y = data(n=20)
    Xc, T, _, _ = m._data(X, y)
    lrs, losses = np.full(3, 1e-3), np.empty(3)
    order = np.arange(20, dtype=np.int64)
    with pytest.raises(ValueError, match="batch_size"):
        plan.train_chunk(Xc, T, None, order, 0, 1, 9, lrs, losses)
    with pytest.raises(ValueError, match="batches inside"):
        plan.train_chunk(Xc, T, None, order, 2, 2, 8, lrs, losses)
    with pytest.raises(ValueError, match="X of shape"):
        plan.train_chunk(Xc[:, :4].copy(), T, None, order, 0, 1, 8, lrs, losses)
    bad = order.copy()
    bad[3] = 20
    with pytest.raises(ValueError, match="row indices"):
        plan.train_chunk(Xc, T, None, bad, 0, 1, 8, lrs, losses)
    with pytest.raises(ValueError, match="labels"):
        plan.train_chunk(Xc, np.full(20, 3, np.intp), None, order, 0, 1, 8, lrs, losses)
    with pytest.raises(ValueError, match="lrs and losses_out"):
        plan.train_chunk(Xc, T, None, order, 0, 3, 8, lrs[:2], losses)
    with pytest.raises(ValueError):
        plan.predict(Xc[:, :4].copy(), np.empty((20, 3), np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        compile_plan(m, 0)
    assert m.optimizer.iterations == 0


def test_stale_plan_raises():
    X, y = data(n=20)
    m = _model([nf.layers.Dense(3, activation="softmax")])
    plan = compile_plan(m, 8)
    Xc, T, _, _ = m._data(X, y)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="compiled again"):
        plan.train_chunk(Xc, T, None, None, 0, 1, 8, np.ones(1), np.empty(1))
    m.add(nf.layers.Dense(2))
    m.build()
    with pytest.raises(ValueError, match="built again"):
        plan.predict(Xc, np.empty((20, 3), np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
def test_team_splits_wide_layers_by_columns_and_narrow_ones_by_rows(dtype, activation, monkeypatch):
    """Layers wider than one 16-column block are split by columns in the team, narrower ones by
    rows (with a barrier after their derivative): both against the layers' Python path."""
    monkeypatch.setattr(nnfast._plan, "_TEAM", True)
    monkeypatch.setattr(nnfast._plan, "_TEAM_MIN_WORK", 0)
    X, y = data(n=150, d=37, k=4, seed=9)
    layers = lambda: [nf.layers.Dense(40, activation=activation),  # noqa: E731
                      nf.layers.Dense(13, activation=activation),
                      nf.layers.Dense(33, activation="relu"),
                      nf.layers.Dense(4, activation="softmax")]
    with threads(2):
        a, b = twins(layers, "sparse_categorical_crossentropy", lambda: nf.optimizers.Adam(1e-2),
                     dtype, d=37)
        hist = a.fit(X, y, epochs=2, batch_size=48, verbose=0)
        ours = plan_fit(b, X, y, epochs=2, batch_size=48)
    np.testing.assert_allclose(ours["loss"], hist.history["loss"], **TOL[dtype])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax-adam", "onehot-smoothing-activation-layer"])
def test_team_computes_the_cross_entropy_and_accuracy_by_rows(dtype, name, monkeypatch):
    """The team splits a softmax cross-entropy (sparse, or dense with label smoothing) and the
    accuracy count by rows, 32 and 17 of a 49-row batch, the last batch of 11 on one thread:
    loss, accuracy and weights as the layers' Python path, with sample weights."""
    monkeypatch.setattr(nnfast._plan, "_TEAM", True)
    monkeypatch.setattr(nnfast._plan, "_TEAM_MIN_WORK", 0)
    _, layers, loss, optimizer, kind, k, _ = _config(name)
    X, y = data(n=158, kind=kind, k=k, seed=4)
    sw = np.random.default_rng(5).uniform(0.2, 2.0, X.shape[0])
    with threads(2):
        a, b = twins(layers, loss, optimizer, dtype)
        hist = a.fit(X, y, epochs=2, batch_size=49, sample_weight=sw, verbose=0)
        ours = plan_fit(b, X, y, epochs=2, batch_size=49, sample_weight=sw)
    np.testing.assert_allclose(ours["loss"], hist.history["loss"], **TOL[dtype])
    np.testing.assert_array_equal(ours["accuracy"], hist.history["accuracy"])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wb, wa, **TOL[dtype])


@pytest.mark.parametrize("wide,expected", [(False, True), (True, False)])
def test_default_team_skips_layers_of_large_kernels(monkeypatch, wide, expected):
    """Chosen by default, the team runs only while every Dense kernel is under
    _TEAM_MAX_KERNEL elements; NNFAST_TEAM=1 (_TEAM True) still forces it."""
    monkeypatch.setattr(nnfast._plan, "_TEAM", None)
    monkeypatch.setattr(nnfast._plan, "_team_wanted", lambda: True)
    monkeypatch.setattr(nnfast._plan, "_TEAM_MAX_KERNEL", nnfast._plan._TEAM_MAX_KERNEL_AMD)
    units = nnfast._plan._TEAM_MAX_KERNEL // 5 + (1 if wide else -1)
    m = _model([nf.layers.Dense(units, activation="relu"), nf.layers.Dense(3, activation="softmax")])
    plan = compile_plan(m, 512)
    assert plan._team_pays(512) is expected
    assert plan._team_pays(1) is False  # under _TEAM_MIN_WORK either way
    monkeypatch.setattr(nnfast._plan, "_TEAM", True)
    assert plan._team_pays(512) is True
    monkeypatch.setattr(nnfast._plan, "_TEAM", None)
    monkeypatch.setattr(nnfast._plan, "_TEAM_MAX_KERNEL", None)  # a CPU without the limit
    assert plan._team_pays(512) is True


def test_cpu_vendor_is_a_string():
    assert isinstance(nnfast._plan._cpu_vendor(), str)


# Clipping: (option, threshold that clips on most steps, one that never does)
CLIPS = [("clipnorm", 0.05, 1e9), ("clipvalue", 0.01, 1e9), ("global_clipnorm", 0.1, 1e9)]
CLIP_MODELS = [
    ("adam-l2-frozen-middle", lambda: [nf.layers.Dense(12, activation="relu",
                                                       kernel_regularizer=R.l2(1e-2)),
                                       nf.layers.Dense(8, activation="tanh"),
                                       nf.layers.Dense(3, activation="softmax")],
     nf.optimizers.Adam, 1),
    ("sgd-batchnorm", lambda: [nf.layers.Dense(12, activation="elu"),
                               nf.layers.BatchNormalization(),
                               nf.layers.Dense(3, activation="softmax")],
     lambda **kw: nf.optimizers.SGD(0.1, momentum=0.9, **kw), None),
    ("rmsprop-dropout", lambda: [nf.layers.Dense(12, activation="gelu"), nf.layers.Dropout(0.2),
                                 nf.layers.Dense(3, activation="softmax", use_bias=False)],
     lambda **kw: nf.optimizers.RMSprop(1e-2, **kw), None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("option,small,large", CLIPS, ids=[c[0] for c in CLIPS])
@pytest.mark.parametrize("name,layers,make_opt,frozen", CLIP_MODELS, ids=[c[0] for c in CLIP_MODELS])
def test_clipping_runs_in_the_plan_bit_for_bit(dtype, option, small, large, name, layers,
                                               make_opt, frozen):
    """clipnorm (per tensor), clipvalue and global_clipnorm in the plan: on one thread every
    batch loss, weight and optimizer state is the per-layer path's to the last bit, whether
    the threshold clips or not, with a frozen layer splitting the trainable runs."""
    X, y = data(kind="sparse", k=3)
    for threshold in (small, large):
        a, b = twins(layers, "sparse_categorical_crossentropy",
                     lambda: make_opt(**{option: threshold}), dtype)
        if frozen is not None:
            a.layers[frozen].trainable = b.layers[frozen].trainable = False
        ca, cb = BatchLosses(), BatchLosses()
        with threads(1):
            a.fit(X, y, epochs=2, batch_size=16, callbacks=[ca], verbose=0)
            b.fit(X, y, epochs=2, batch_size=16, callbacks=[cb], verbose=0)
            assert b.train_on_batch(X[:20], y[:20]) == a.train_on_batch(X[:20], y[:20])
        assert b._plan is not None and b._plan._clips
        assert cb.losses == ca.losses
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wb, wa)
        for key, state in a.optimizer.slots.items():
            np.testing.assert_array_equal(b.optimizer.slots[key], state)


@pytest.mark.parametrize("option,small", [(c[0], c[1]) for c in CLIPS])
def test_clipping_changes_the_step_and_follows_the_setting(option, small):
    """The plan clips (a tight threshold moves the weights less than none), and a threshold
    changed on the optimizer between fits is used (the plan rebuilds its description)."""
    X, y = data(kind="sparse", k=3)

    def moved(opt):
        m = nf.Sequential([nf.layers.Dense(8, activation="relu"),
                           nf.layers.Dense(3, activation="softmax")], input_dim=5, seed=3)
        m.compile(opt, "sparse_categorical_crossentropy")
        w0 = m.get_weights()
        m.fit(X, y, epochs=1, batch_size=101, shuffle=False, verbose=0)
        return m, sum(float(np.abs(a - b).sum()) for a, b in zip(w0, m.get_weights()))

    _, free = moved(nf.optimizers.SGD(1.0))
    m, tight = moved(nf.optimizers.SGD(1.0, **{option: small}))
    assert m._plan is not None and tight < 0.9 * free
    setattr(m.optimizer, option, 1e9)
    w0 = m.get_weights()
    m.fit(X, y, epochs=1, batch_size=101, shuffle=False, verbose=0)
    ref = nf.Sequential([nf.layers.Dense(8, activation="relu"),
                         nf.layers.Dense(3, activation="softmax")], input_dim=5, seed=3)
    ref.compile(nf.optimizers.SGD(1.0), "sparse_categorical_crossentropy")
    ref.set_weights(w0)
    ref.fit(X, y, epochs=1, batch_size=101, shuffle=False, verbose=0)
    for wa, wb in zip(ref.get_weights(), m.get_weights()):
        np.testing.assert_allclose(wb, wa, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n_in", [1, 13, 300])
def test_small_batch_row_kernels_every_block_width(n_in):
    # inference chunks of up to 8 rows skip ?gemm: the one-row kernel (96/64/32/16/8-column
    # blocks and a masked tail on AVX2; 256/128/64/16 on AVX-512) and, on AVX2, the 4/3/2-row
    # kernels (24/16/8 columns, ...); against a float64 NumPy forward
    rng = np.random.default_rng(n_in)
    X = rng.normal(size=(41, n_in)).astype(np.float32)
    for units in (1, 7, 8, 9, 16, 23, 24, 25, 31, 48, 64, 95, 96, 97, 200, 257):
        model = nf.Sequential([nf.layers.Dense(units, activation="relu"), nf.layers.Dense(3)],
                              input_dim=n_in, seed=0)
        model.compile("adam", "mse")
        model.build()
        W1, b1, W2, b2 = (w.astype(np.float64) for w in model.get_weights())
        expected = np.maximum(X.astype(np.float64) @ W1 + b1, 0.0) @ W2 + b2
        plan = compile_plan(model, 32)
        for n in (1, 2, 3, 4, 5, 7, 8, 9, 41):  # 9 and 41 rows: the GEMM path
            got = plan.predict(X[:n], np.empty((n, 3), np.float32))
            np.testing.assert_allclose(got, expected[:n], rtol=1e-5, atol=1e-5 * np.sqrt(n_in),
                                       err_msg=f"{n} x {n_in} x {units}")
        # a row's result does not depend on the small batch around it (one chain per element;
        # two rows take the row kernels on every CPU)
        one = plan.predict(X[1:2], np.empty((1, 3), np.float32))
        np.testing.assert_array_equal(plan.predict(X[:2], np.empty((2, 3), np.float32))[1:],
                                      one)
