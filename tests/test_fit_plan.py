"""``Sequential.fit`` and ``predict`` through the compiled plan, against the per-layer path.

Twin models (same seed) trained once with the plan (the default) and once with the plan
switched off (``_use_plan = False``) must give the same history and weights on one thread
count, whatever mode the loop runs in: chunks of many batches (no batch callbacks; accuracy
counted in C, other metrics fed the chunk's outputs), one batch per call (a callback with a
batch hook), shuffled or not, with validation, Dropout, BatchNormalization, LayerNormalization,
L2 regularizers and sample weights.
"""

import numpy as np
import pytest

import nnfast as nf
import nnfast._plan
import nnfast._plan_fit
from helpers import threads

TOL = {"float64": dict(rtol=1e-12, atol=1e-13), "float32": dict(rtol=2e-5, atol=2e-6)}


def data(n=203, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, :k] @ rng.normal(size=(k, k))).argmax(1)


def twins(dtype, metrics=("accuracy",), dropout=0.0, out="softmax", loss="sparse_categorical_crossentropy"):
    made = []
    for use_plan in (True, False):
        layers = [nf.layers.Dense(16, activation="relu")]
        if dropout:
            layers.append(nf.layers.Dropout(dropout))
        layers.append(nf.layers.Dense(3 if out == "softmax" else 1, activation=out))
        m = nf.Sequential(layers, input_dim=6, dtype=dtype, seed=3)
        m.compile(nf.optimizers.Adam(1e-2), loss, metrics=list(metrics))
        m._use_plan = use_plan
        made.append(m)
    return made


def assert_same(a, b, ha, hb, dtype):
    assert ha.history.keys() == hb.history.keys()
    for key in ha.history:
        np.testing.assert_allclose(ha.history[key], hb.history[key], err_msg=key, **TOL[dtype])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, **TOL[dtype])


class BatchCounter(nf.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.begins, self.ends = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_batch_end(self, batch, logs=None):
        self.ends.append((batch, logs["size"], logs["batch_loss"]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("metrics,dropout,shuffle", [
    (("accuracy",), 0.0, True),          # chunks, hits counted in C
    (("accuracy",), 0.3, False),         # Dropout seeds, rows in order
    (("accuracy", "f1"), 0.0, True),     # f1 needs the outputs: fed per chunk
    ((), 0.2, True),
])
def test_fit_through_the_plan_matches_the_per_layer_path(dtype, metrics, dropout, shuffle):
    X, y = data()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    a, b = twins(dtype, metrics, dropout)
    with threads(1):
        kw = dict(epochs=3, batch_size=16, shuffle=shuffle, sample_weight=sw,
                  validation_split=0.2, verbose=0)
        ha, hb = a.fit(X, y, **kw), b.fit(X, y, **kw)
    assert a._plan is not None and b._plan is None
    assert_same(a, b, ha, hb, dtype)
    assert set(ha.history) >= {"loss", "val_loss", "lr", *metrics, *("val_" + m for m in metrics)}


def test_binary_model_with_auc_runs_in_chunks():
    X, y = data()
    y = (y == 0).astype(float)
    a, b = twins("float64", ("accuracy", "auc"), out="sigmoid", loss="binary_crossentropy")
    with threads(1):
        ha = a.fit(X, y, epochs=2, batch_size=32, verbose=0)
        hb = b.fit(X, y, epochs=2, batch_size=32, verbose=0)
    assert_same(a, b, ha, hb, "float64")


def test_a_batch_callback_is_called_for_every_batch_with_the_per_layer_logs():
    X, y = data(n=100)
    a, b = twins("float64")
    ca, cb = BatchCounter(), BatchCounter()
    with threads(1):
        a.fit(X, y, epochs=2, batch_size=16, callbacks=[ca], verbose=0)
        b.fit(X, y, epochs=2, batch_size=16, callbacks=[cb], verbose=0)
    assert ca.begins == cb.begins == list(range(7)) * 2
    assert [e[:2] for e in ca.ends] == [e[:2] for e in cb.ends]
    np.testing.assert_allclose([e[2] for e in ca.ends], [e[2] for e in cb.ends], rtol=1e-12)


def test_without_batch_callbacks_batches_run_in_chunks(monkeypatch):
    """The progress bar is told about the last batch of each chunk only; results unchanged."""
    monkeypatch.setattr(nnfast._plan_fit, "CHUNK_SECONDS", 10.0)  # one chunk after the first steps
    seen = []
    real = nf.callbacks.CallbackList.on_train_batch_end
    monkeypatch.setattr(nf.callbacks.CallbackList, "on_train_batch_end",
                        lambda self, batch, logs=None: (seen.append(batch), real(self, batch, logs)))
    X, y = data(n=160)
    a, b = twins("float64")
    with threads(1):
        ha = a.fit(X, y, epochs=2, batch_size=8, verbose=0)
        hb = b.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert_same(a, b, ha, hb, "float64")
    chunked = seen[:len(seen) - 40]  # b's per-layer path reports all 2 x 20 batches
    assert chunked == [3, 19, 19]    # tuning steps 0-3, then the rest; epoch 2 in one call


def test_stop_training_from_a_batch_callback_stops_at_that_batch():
    class StopAt(nf.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 4:
                self.model.stop_training = True

    X, y = data(n=100)
    m = twins("float64")[0]
    m.fit(X, y, epochs=3, batch_size=10, callbacks=[StopAt()], verbose=0)
    assert m.optimizer.iterations == 5


def test_fit_uses_the_per_layer_path_when_the_plan_cannot_run_the_model():
    X, y = data()
    custom = type("MyBatchNorm", (nf.layers.BatchNormalization,), {})  # a custom layer class
    m = nf.Sequential([nf.layers.Dense(8, activation="relu"), custom(),
                       nf.layers.Dense(3, activation="softmax")], input_dim=6, seed=0)
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert m._plan is None and len(h.history["loss"]) == 2


def norm_twins(dtype, norm, l2=1e-3):
    """Dense(l2) -> BatchNormalization/LayerNormalization -> Dropout -> Dense(l2), plan on and off."""
    made = []
    for use_plan in (True, False):
        reg = nf.regularizers.l2(l2)
        layers = [nf.layers.Dense(16, activation="relu", kernel_regularizer=reg),
                  nf.layers.BatchNormalization() if norm == "batch" else nf.layers.LayerNormalization(),
                  nf.layers.Dropout(0.2),
                  nf.layers.Dense(3, activation="softmax", kernel_regularizer=reg)]
        m = nf.Sequential(layers, input_dim=6, dtype=dtype, seed=3)
        m.compile(nf.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
        m._use_plan = use_plan
        made.append(m)
    return made


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("batch_hook", [False, True])
def test_fit_with_normalization_dropout_and_l2_matches_the_per_layer_path(dtype, norm, batch_hook):
    X, y = data()
    sw = np.random.default_rng(2).uniform(0.5, 2.0, X.shape[0])
    a, b = norm_twins(dtype, norm)
    cbs = [BatchCounter()] if batch_hook else []  # one batch per call, or chunks
    with threads(1):
        kw = dict(epochs=3, batch_size=16, sample_weight=sw, validation_split=0.2, verbose=0)
        ha, hb = a.fit(X, y, callbacks=cbs, **kw), b.fit(X, y, callbacks=cbs, **kw)
        assert a._plan is not None and b._plan is None
        assert_same(a, b, ha, hb, dtype)  # weights include BN's moving statistics
        np.testing.assert_array_equal(a._store.state, b._store.state)
        np.testing.assert_allclose(a.predict(X), b.predict(X), **TOL[dtype])
        assert a.evaluate(X, y) == pytest.approx(b.evaluate(X, y), rel=1e-6)


def test_the_design_example_trains_through_the_plan():
    """DESIGN.md's model (Dense + l2, BatchNormalization, Dropout, softmax) with EarlyStopping."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 784)).astype(np.float32)
    y = (X[:, :10] @ rng.normal(size=(10, 10))).argmax(1)
    made = []
    for use_plan in (True, False):
        model = nf.Sequential([
            nf.layers.Dense(256, activation="relu", kernel_initializer="he_normal",
                            kernel_regularizer=nf.regularizers.l2(1e-4)),
            nf.layers.BatchNormalization(),
            nf.layers.Dropout(0.2),
            nf.layers.Dense(10, activation="softmax"),
        ], input_dim=784, dtype="float32", seed=0)
        model.compile(optimizer=nf.optimizers.Adam(learning_rate=1e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model._use_plan = use_plan
        made.append(model)
    a, b = made
    with threads(1):
        kw = dict(epochs=3, batch_size=64, validation_split=0.15, verbose=0)
        ha = a.fit(X, y, callbacks=[nf.callbacks.EarlyStopping(patience=5, restore_best_weights=True)], **kw)
        hb = b.fit(X, y, callbacks=[nf.callbacks.EarlyStopping(patience=5, restore_best_weights=True)], **kw)
    assert a._plan is not None and b._plan is None
    assert_same(a, b, ha, hb, "float32")
    assert ha.history["loss"][-1] < ha.history["loss"][0]


def test_a_new_compile_or_optimizer_gets_a_new_plan():
    X, y = data()
    m = twins("float32")[0]
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    first = m._plan
    m.compile(nf.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    m.fit(X, y, epochs=1, batch_size=64, verbose=0)
    assert m._plan is not first and m._plan.batch_size == 64
    assert m._plan._optimizer is m.optimizer


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [1, 2, 7, 1500])
def test_predict_through_the_plan_matches_the_per_layer_path(dtype, n):
    X = np.random.default_rng(5).normal(size=(n, 6))
    a, b = twins(dtype, dropout=0.5)
    assert a.predict(X).dtype == np.dtype(dtype)
    np.testing.assert_allclose(a.predict(X), b.predict(X), **TOL[dtype])
    assert a._inference_plan is not None and b._predict_plan() is None


def _serving_twins(dtype, layers):
    """The same uncompiled network twice (weights copied), the second on the per-layer path."""
    made = [nf.Sequential(layers(), input_dim=6, dtype=dtype, seed=4) for _ in range(2)]
    made[0].build()
    made[1].set_weights(made[0].get_weights())
    made[1]._use_plan = False
    return made


SERVED = {
    "dense": lambda: [nf.layers.Dense(7, activation="gelu"), nf.layers.Dense(5, activation="elu"),
                      nf.layers.Dense(3, activation="softmax")],
    "norms": lambda: [nf.layers.Dense(8, activation="tanh"), nf.layers.BatchNormalization(),
                      nf.layers.Dropout(0.3), nf.layers.Dense(8, use_bias=False),
                      nf.layers.LayerNormalization(), nf.layers.Activation("swish"),
                      nf.layers.Dense(1, activation="sigmoid")],
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("net", sorted(SERVED))
@pytest.mark.parametrize("n", [1, 3, 1500])
def test_an_uncompiled_model_predicts_through_its_inference_plan(dtype, net, n):
    a, b = _serving_twins(dtype, SERVED[net])
    bn = [l for l in a.layers if isinstance(l, nf.layers.BatchNormalization)]
    if bn:  # moving statistics away from (0, 1), set on both twins
        w = a.get_weights()
        i = sum(len(l.get_weights()) for l in a.layers[:a.layers.index(bn[0])])
        w[i + 2] += 0.5
        w[i + 3] *= 3.0
        a.set_weights(w)
        b.set_weights(w)
    X = np.random.default_rng(n).normal(size=(n, 6))
    got = a.predict(X)
    assert a._plan is None and a._inference_plan is not None
    assert b._inference_plan is None
    np.testing.assert_allclose(got, b.predict(X), **TOL[dtype])
    # set_weights reaches the plan's next call
    w = [x * 0.5 for x in a.get_weights()]
    a.set_weights(w)
    b.set_weights(w)
    np.testing.assert_allclose(a.predict(X), b.predict(X), **TOL[dtype])


def test_the_inference_plan_follows_compile_rebuild_and_unsupported_settings():
    X = np.random.default_rng(0).normal(size=(4, 6))
    a, b = _serving_twins("float64", SERVED["dense"])
    a.predict(X)
    plan = a._inference_plan
    with pytest.raises(ValueError, match="inference plan"):
        plan.train_chunk(X.astype(a.dtype), None, None, None, 0, 1, 4, np.ones(1), np.zeros(1))

    class CustomLoss(nf.losses.MeanSquaredError):  # a loss the training plan does not run
        pass

    for m in (a, b):
        m.compile("adam", CustomLoss())
    np.testing.assert_allclose(a.predict(X), b.predict(X), **TOL["float64"])
    assert a._plan is None and a._inference_plan is plan
    a.compile("adam", "mse")
    a.fit(X, np.zeros((4, 3)), epochs=1, verbose=0)  # a training plan now: predict runs it
    assert a._plan is not None
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(a.predict(X), b.predict(X), **TOL["float64"])
    a.add(nf.layers.Dense(2))  # rebuilt: a new store, so a new plan
    b.add(nf.layers.Dense(2))
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(a.predict(X), b.predict(X), **TOL["float64"])
    assert a._inference_plan is not plan


def test_a_loaded_uncompiled_model_predicts_through_a_plan(tmp_path):
    a, _ = _serving_twins("float32", SERVED["dense"])
    X = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    a.save(tmp_path / "m.npz")
    loaded = nf.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(X), a.predict(X))
    assert loaded._inference_plan is not None


def test_optimizer_settings_changed_between_fits_reach_the_plan():
    """AdamW's weight decay or SGD's momentum changed after a fit, and clipping set later,
    train exactly as on the per-layer path (the plan rebuilds its description)."""
    X, y = data()
    made = []
    for use_plan in (True, False):
        m = nf.Sequential([nf.layers.Dense(8, activation="tanh"),
                           nf.layers.Dense(3, activation="softmax")], input_dim=6,
                          dtype="float64", seed=1)
        m.compile(nf.optimizers.AdamW(1e-2, weight_decay=0.0), "sparse_categorical_crossentropy")
        m._use_plan = use_plan
        made.append(m)
    with threads(1):
        for m in made:
            m.fit(X, y, epochs=1, batch_size=16, verbose=0)
            m.optimizer.weight_decay = 0.5
            m.fit(X, y, epochs=1, batch_size=16, verbose=0)
            m.optimizer.clipnorm = 1e-3
            m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    a, b = made
    assert a._plan is not None and a._plan._clips  # clipping runs in the plan too
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, **TOL["float64"])


@pytest.mark.parametrize("out,loss,metrics", [
    ("sigmoid", "binary_crossentropy", ("auc", "precision", "recall", "f1", "mae", "mse")),
    ("softmax", "sparse_categorical_crossentropy", ("accuracy", "auc", "precision", "f1")),
])
def test_metrics_from_the_chunks_outputs_match_the_per_layer_path(monkeypatch, out, loss,
                                                                  metrics):
    """Metrics other than the plan's accuracy count are fed each chunk's outputs in one call:
    chunks of several batches (a few kept outputs: many chunks, a ragged last batch), the
    counting metrics equal to the per-batch updates of the per-layer path, the mean errors
    to float rounding."""
    monkeypatch.setattr(nnfast._plan_fit, "OUTPUT_FLOATS", 5 * 16 * 3)
    calls = []
    real = nnfast._plan.Plan._steps  # (fit's chunks call it directly; a[6]: n_steps)
    monkeypatch.setattr(nnfast._plan.Plan, "_steps",
                        lambda self, *a, **kw: (calls.append(a[6]), real(self, *a, **kw))[1])
    X, y = data(n=203)
    if out == "sigmoid":
        y = (y == 0).astype(float)
    a, b = twins("float64", metrics, out=out, loss=loss)
    with threads(1):
        ha = a.fit(X, y, epochs=2, batch_size=16, validation_split=0.1, verbose=0)
        hb = b.fit(X, y, epochs=2, batch_size=16, validation_split=0.1, verbose=0)
    assert max(calls) > 1  # steps per call: chunks, not single batches
    assert_same(a, b, ha, hb, "float64")
    for name in metrics:
        if name not in ("mae", "mse"):
            assert ha.history[name] == hb.history[name], name


def test_a_metric_that_may_depend_on_the_batches_still_sees_every_batch():
    """MeanMetricWrapper averages a function's per-batch values: it keeps one batch per call,
    and its history is the per-layer path's."""
    worst = nf.metrics.MeanMetricWrapper(lambda t, p: float(np.max(np.abs(p))), name="worst")
    X, y = data(n=100)
    made = []
    for use_plan in (True, False):
        m = nf.Sequential([nf.layers.Dense(8, activation="relu"),
                           nf.layers.Dense(3, activation="softmax")], input_dim=6, seed=3,
                          dtype="float64")
        m.compile("adam", "sparse_categorical_crossentropy",
                  metrics=[nf.metrics.MeanMetricWrapper(worst.fn, name="worst")])
        m._use_plan = use_plan
        made.append(m)
    with threads(1):
        ha, hb = (m.fit(X, y, epochs=2, batch_size=16, verbose=0) for m in made)
    assert made[0]._plan is not None
    np.testing.assert_allclose(ha.history["worst"], hb.history["worst"], rtol=1e-12)


@pytest.mark.parametrize("use_plan", [True, False])
def test_validation_runs_in_evaluates_chunks(use_plan):
    """fit's validation evaluates in evaluate's default chunks (not 16-row batches): the last
    epoch's val_ figures are model.evaluate's on the held-out rows, to the bit."""
    X, y = data(n=400)
    m = twins("float64", ("accuracy", "auc"))[0 if use_plan else 1]
    h = m.fit(X, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    at = int(np.floor(400 * 0.75))
    ev = m.evaluate(X[at:], y[at:])
    assert h.history["val_loss"][-1] == ev["loss"]
    assert h.history["val_accuracy"][-1] == ev["accuracy"]
    assert h.history["val_auc"][-1] == ev["auc"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("net,loss,metrics", [
    ("dense", "sparse_categorical_crossentropy", ["accuracy"]),  # softmax fused: logits
    ("dense", "categorical_crossentropy", ["accuracy", "auc"]),
    ("norms", "binary_crossentropy", ["accuracy", "auc"]),       # sigmoid fused: logits
    ("norms", "binary_crossentropy", ["accuracy"]),              # hits counted in C
    ("norms", "mse", ["mae"]),                                   # nothing fused: outputs
])
@pytest.mark.parametrize("n,batch_size", [(1, None), (3, None), (1500, None), (1500, 64)])
def test_evaluate_through_the_plan_matches_the_per_layer_path(dtype, net, loss, metrics, n,
                                                              batch_size):
    """evaluate runs the forward pass in one C call per chunk (the inference plan before fit,
    the training plan after), asking for the logits when the loss fuses the last activation."""
    a, b = _serving_twins(dtype, SERVED[net])
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 6))
    y = rng.integers(0, a.output_dim, n) if a.output_dim > 1 else rng.integers(0, 2, n)
    if loss == "categorical_crossentropy":
        y = np.eye(a.output_dim)[y]
    w = rng.uniform(0.5, 2.0, n)
    for m in (a, b):
        m.compile("adam", loss, metrics=metrics)
    for fitted in (False, True):
        got = a.evaluate(X, y, batch_size=batch_size, sample_weight=w)
        assert (a._plan if fitted else a._inference_plan) is not None
        want = b.evaluate(X, y, batch_size=batch_size, sample_weight=w)
        assert got.keys() == want.keys()
        for key in got:
            np.testing.assert_allclose(got[key], want[key], err_msg=key, **TOL[dtype])
        a.fit(X, y, epochs=1, batch_size=8, verbose=0)
        b.set_weights(a.get_weights())


def test_evaluate_of_a_fortran_ordered_input_takes_the_same_values():
    a, b = _serving_twins("float64", SERVED["dense"])
    X = np.asfortranarray(np.random.default_rng(2).normal(size=(40, 6)))
    y = np.arange(40) % 3
    for m in (a, b):
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    assert a.evaluate(X, y) == pytest.approx(b.evaluate(X, y), rel=1e-12)



@pytest.mark.parametrize("kind", sorted(nnfast._plan._OPTIMIZERS, key=lambda k: k.__name__))
def test_every_setting_the_c_update_reads_is_watched_by_train_on_batch(kind):
    """Changing any optimizer attribute the plan's spec reads (and clipping) between two
    train_on_batch calls reaches the C update: the plan's layout key watches each one."""
    code, slots, fields = nnfast._plan._OPTIMIZERS[kind]
    changes = {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3, "weight_decay": 0.3,
               "momentum": 0.7, "rho": 0.5, "nesterov": True, "clipnorm": 1e-3,
               "clipvalue": 1e-4, "global_clipnorm": 1e-3}
    names = [n for n in fields.values() if n != "_decoupled"] + ["clipnorm", "clipvalue",
                                                                  "global_clipnorm"]
    X, y = data(n=24)
    for name in names:
        made = []
        for use_plan in (True, False):
            m = nf.Sequential([nf.layers.Dense(5, activation="tanh"),
                               nf.layers.Dense(3, activation="softmax")], input_dim=6,
                              dtype="float64", seed=2)
            opt = kind(1e-2, momentum=0.1) if kind in (nf.optimizers.SGD, nf.optimizers.RMSprop) \
                else kind(1e-2)
            m.compile(opt, "sparse_categorical_crossentropy")
            m._use_plan = use_plan
            made.append(m)
        with threads(1):
            for m in made:
                m.train_on_batch(X, y)
                setattr(m.optimizer, name, changes[name])
                m.train_on_batch(X, y)
                m.train_on_batch(X, y)
        assert made[0]._plan is not None
        for wa, wb in zip(made[0].get_weights(), made[1].get_weights()):
            np.testing.assert_allclose(wa, wb, err_msg=name, **TOL["float64"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_serving_call_takes_only_its_case_and_hands_back_the_rest(dtype):
    """Forward.serve (predict's fast path) computes only for an ndarray of the model's dtype,
    C-contiguous, 2-D, of 1 to `rows` rows of the input width; anything else comes back as
    False for the checked path, and non-finite input as None."""
    a, b = _serving_twins(dtype, SERVED["dense"])
    X = np.random.default_rng(3).normal(size=(5, 6)).astype(dtype)
    a.predict(X)  # binds the plan's forward pass
    forward = a._inference_plan.serving_forward()
    assert forward is not None
    np.testing.assert_allclose(forward.serve(X), b.predict(X), **TOL[dtype])
    ro = X.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(forward.serve(ro), forward.serve(X))
    taken = [X.tolist(), np.asfortranarray(X), X[:, ::-1], X.astype(np.float16),
             X.astype(X.dtype.newbyteorder()), np.repeat(X, 1000, axis=0)]  # > rows: 5000
    if dtype == "float64":
        taken.append(X.astype(np.float32))  # (a float32 plan takes float64 X: below)
    for bad in taken:
        assert forward.serve(bad) is False
        np.testing.assert_allclose(a.predict(bad), b.predict(bad), **TOL[dtype])
    for bad in (X[:0], X[:, :5].copy(), X.reshape(-1)):
        assert forward.serve(bad) is False
        with pytest.raises(ValueError):
            a.predict(bad)
    nan = X.copy()
    nan[2, 3] = np.nan
    assert forward.serve(nan) is None
    with pytest.raises(ValueError, match="finite"):
        a.predict(nan)


def test_a_float32_plan_serves_float64_input_as_the_checked_path_casts_it():
    """NumPy's default float64 X for a float32 model: cast in the serving call, to the bits
    of the checked path's np.ascontiguousarray(X, dtype=float32); finiteness is checked on
    the cast values (a float64 beyond float32's range becomes inf and is refused)."""
    a, _ = _serving_twins("float32", SERVED["dense"])
    rng = np.random.default_rng(5)
    X64 = rng.normal(size=(7, 6)) * 10.0 ** rng.integers(-8, 8, size=(7, 6))
    a.predict(X64.astype(np.float32))
    forward = a._inference_plan.serving_forward()
    out = forward.serve(X64)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, forward.serve(np.ascontiguousarray(X64, np.float32)))
    np.testing.assert_array_equal(a.predict(X64), out)
    np.testing.assert_array_equal(a.predict(X64[:1]), a.predict(X64[:1].astype(np.float32)))
    for bad in (np.nan, np.inf, 1e39, -1e39):  # 1e39 overflows float32
        Xb = X64.copy()
        Xb[4, 2] = bad
        assert forward.serve(Xb) is None
        with pytest.raises(ValueError, match="finite"):
            a.predict(Xb)
    near = X64.copy()
    near[0, 0] = float(np.finfo(np.float32).max)  # the largest float32: finite either way
    np.testing.assert_array_equal(forward.serve(near),
                                  forward.serve(near.astype(np.float32)))
    assert forward.serve(np.asfortranarray(X64)) is False  # other layouts: the checked path



def test_the_plans_evaluate_checks_its_arguments():
    a, _ = _serving_twins("float64", SERVED["dense"])
    a.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    X = np.random.default_rng(4).normal(size=(9, 6))
    y = np.arange(9) % 3
    out, grad = np.empty((9, 3)), np.empty((9, 3))
    a.evaluate(X, y)  # before fit: the inference plan, which has no loss
    with pytest.raises(ValueError, match="inference plan"):
        a._inference_plan.evaluate(X, y, None, out, grad, True, True)
    a.fit(X, y, epochs=1, verbose=0)
    plan = a._plan
    loss, hits = plan.evaluate(X, y.astype(np.intp), None, out, grad, True, True)
    assert loss == pytest.approx(a.evaluate(X, y)["loss"], rel=1e-12)
    assert hits == np.sum(out.argmax(1) == y)
    for bad in (dict(X=X[:, :5]), dict(out=out[:5]), dict(grad=grad[:, :2]),
                dict(T=np.array([0, 1, 2, 3, 0, 1, 2, 0, 1], np.intp)), dict(T=y[:5].astype(np.intp)),
                dict(W=np.ones(4))):
        args = dict(X=X, T=y.astype(np.intp), W=None, out=out, grad=grad)
        args.update(bad)
        with pytest.raises(ValueError):
            plan.evaluate(args["X"], args["T"], args["W"], args["out"], args["grad"], True, True)


def test_fit_chunks_refuse_a_model_compiled_again_by_a_callback():
    """fit's chunks skip train_chunk's argument checks (PlanEpochs made the arrays) but not
    the check that the plan still runs the model's optimizer: a callback that compiles the
    model again between epochs gets the plan's error, not a step with the old state."""
    X, y = data(n=64)
    model = nf.Sequential([nf.layers.Dense(5, activation="relu"),
                           nf.layers.Dense(3, activation="softmax")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")

    class Recompile(nf.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.compile("sgd", "sparse_categorical_crossentropy")

    with pytest.raises(ValueError, match="compiled again"):
        model.fit(X, y, epochs=2, batch_size=16, callbacks=[Recompile()], verbose=0)
