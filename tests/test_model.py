"""Sequential: training loop, validation, weights, dtypes, reproducibility, callbacks."""

import numpy as np
import pytest

import nnfast as nf
from hypothesis import given, settings, strategies as st

from helpers import threads


def blobs(n=200, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    return centers[y] + rng.normal(size=(n, d)), y


def classifier(k=3, d=4, seed=0, dtype="float32", extra=()):
    model = nf.Sequential([nf.layers.Dense(16, activation="relu"), *extra,
                           nf.layers.Dense(k, activation="softmax")],
                          input_dim=d, seed=seed, dtype=dtype)
    model.compile(nf.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_learns_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 8, dtype=float)
    y = np.array([0, 1, 1, 0] * 8)
    model = nf.Sequential([nf.layers.Dense(8, activation="tanh"),
                           nf.layers.Dense(1, activation="sigmoid")], seed=1)
    model.compile(nf.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=150, batch_size=8, verbose=0)
    assert model.input_dim == 2                       # inferred at the first fit
    np.testing.assert_array_equal((model.predict(X[:4])[:, 0] > 0.5).astype(int), [0, 1, 1, 0])
    assert model.evaluate(X, y)["accuracy"] == 1.0


def test_history_keys_lengths_and_validation_split_takes_the_last_fraction():
    X, y = blobs()
    model = classifier()
    hist = model.fit(X, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 3 for v in hist.history.values()) and hist.epoch == [0, 1, 2]
    assert model.history is hist
    last = model.evaluate(X[150:], y[150:])
    assert hist.history["val_loss"][-1] == pytest.approx(last["loss"], rel=1e-5)
    assert hist.history["val_accuracy"][-1] == pytest.approx(last["accuracy"])
    assert model.optimizer.iterations == 3 * 5        # 150 training rows, batches of 32
    assert hist.history["lr"] == [0.01] * 3


def test_validation_data_and_evaluate_metrics():
    X, y = blobs(300)
    model = classifier()
    hist = model.fit(X[:200], y[:200], epochs=5, batch_size=16, verbose=0,
                     validation_data=(X[200:], y[200:]))
    res = model.evaluate(X[200:], y[200:])
    assert hist.history["val_loss"][-1] == pytest.approx(res["loss"], rel=1e-5)
    probs = model.predict(X[200:])
    assert res["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == y[200:]))
    p = probs.astype(np.float64)[np.arange(100), y[200:]]
    assert res["loss"] == pytest.approx(-np.mean(np.log(p)), rel=1e-4)
    assert res["accuracy"] > 0.9


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_everywhere(dtype):
    X, y = blobs(64)
    model = classifier(dtype=dtype, extra=[nf.layers.BatchNormalization(), nf.layers.Dropout(0.1)])
    model.fit(X.astype(np.float64), y, epochs=1, verbose=0)   # float64 data into a float32 model
    assert all(w.dtype == np.dtype(dtype) for w in model.get_weights())
    assert model.predict(X).dtype == np.dtype(dtype)
    assert model.optimizer.slots["m"].dtype == np.dtype(dtype)
    assert model._store.params.dtype == np.dtype(dtype)


def test_same_seed_gives_bit_identical_weights_and_another_seed_does_not():
    X, y = blobs(100)

    def run(seed):
        m = classifier(seed=seed, extra=[nf.layers.BatchNormalization(), nf.layers.Dropout(0.3)])
        m.fit(X, y, epochs=3, batch_size=16, verbose=0, validation_split=0.2)
        return m.get_weights()

    a, b, c = run(7), run(7), run(8)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert not all(np.array_equal(wa, wc) for wa, wc in zip(a, c))


def test_thread_count_changes_only_rounding():
    X, y = blobs(300, d=40, seed=3)
    out = []
    for n in (1, 2):
        with threads(n):
            m = classifier(d=40, seed=0, dtype="float64")
            m.fit(X, y, epochs=2, batch_size=64, verbose=0)
            out.append(m.predict(X))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9, atol=1e-11)


def test_train_on_batch_returns_the_loss_before_the_step():
    X, y = blobs(32)
    model = classifier(dtype="float64")
    before = model.evaluate(X, y)["loss"]
    w0 = model.get_weights()
    loss = model.train_on_batch(X, y)
    assert loss == pytest.approx(before, rel=1e-12)
    assert model.optimizer.iterations == 1
    assert not np.array_equal(w0[0], model.get_weights()[0])
    assert model.evaluate(X, y)["loss"] < before


def test_partial_last_batch_and_buffers_made_once():
    X, y = blobs(10)
    model = classifier()
    model.fit(X, y, epochs=2, batch_size=4, verbose=0)
    assert model.optimizer.iterations == 6
    bufs = [id(b) for b in model._acts]
    model.fit(X, y, epochs=1, batch_size=4, verbose=0)
    assert [id(b) for b in model._acts] == bufs       # reused, not reallocated


def test_sample_weight_and_class_weight():
    X, y = blobs(60)
    model = classifier(dtype="float64")
    w = np.random.default_rng(0).uniform(0, 2, size=60)
    probs = model.predict(X)
    per_sample = -np.log(probs[np.arange(60), y])
    assert model.evaluate(X, y, sample_weight=w)["loss"] == pytest.approx(np.mean(w * per_sample))
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a, b = classifier(dtype="float64", seed=5), classifier(dtype="float64", seed=5)
    a.fit(X, y, epochs=2, batch_size=8, verbose=0, class_weight=cw)
    b.fit(X, y, epochs=2, batch_size=8, verbose=0, sample_weight=np.array([cw[c] for c in y]))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_binary_labels_as_vector_or_column_and_sparse_labels_in_any_integer_type():
    X, y = blobs(80, k=2)
    res = []
    for labels in (y, y.reshape(-1, 1), y.astype(np.uint8), y.astype(float)):
        m = nf.Sequential([nf.layers.Dense(4, activation="relu"),
                           nf.layers.Dense(1, activation="sigmoid")], input_dim=4, seed=0)
        m.compile("adam", "binary_crossentropy")
        m.fit(X, labels, epochs=2, verbose=0)
        res.append(m.get_weights()[0])
    for r in res[1:]:
        np.testing.assert_array_equal(res[0], r)
    for labels in (y.astype(np.int8), y.astype(np.uint16), y.astype(np.float32)):
        m = classifier(k=2)
        m.fit(X, labels, epochs=1, verbose=0)


def test_one_hot_targets_from_logits_and_large_logits_stay_finite():
    X, y = blobs(50)
    onehot = np.eye(3)[y]
    model = nf.Sequential([nf.layers.Dense(3)], input_dim=4, seed=0)
    model.compile(nf.optimizers.SGD(0.1), nf.losses.CategoricalCrossentropy(from_logits=True))
    model.set_weights([np.full((4, 3), 500.0) * [[1, -1, 0]], np.zeros(3)])   # huge logits
    hist = model.fit(X, onehot, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    assert model.evaluate(X, onehot)["loss"] == pytest.approx(
        nf.losses.CategoricalCrossentropy(from_logits=True)(onehot, model.predict(X)), rel=1e-5)


def test_regression_with_mse_mae_huber():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    for loss in ("mse", "mae", "huber"):
        model = nf.Sequential([nf.layers.Dense(1)], input_dim=3, seed=0)
        model.compile(nf.optimizers.Adam(0.05), loss, metrics=["mae", "mse"])
        hist = model.fit(X, y, epochs=60, batch_size=32, verbose=0)
        assert hist.history["mae"][-1] < 0.1, loss
        assert model.evaluate(X, y)["mse"] < 0.02


def test_get_weights_are_copies_in_design_order_and_set_weights_copies_in():
    model = nf.Sequential([nf.layers.Dense(3), nf.layers.BatchNormalization(),
                           nf.layers.LayerNormalization(), nf.layers.Dense(2, use_bias=False)],
                          input_dim=4, seed=0)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(4, 3), (3,), (3,), (3,), (3,), (3,), (3,), (3,), (3, 2)]
    ws = model.get_weights()
    ws[0][...] = 0
    assert not np.array_equal(model.get_weights()[0], ws[0])
    model.set_weights(ws)
    np.testing.assert_array_equal(model.get_weights()[0], 0)
    ws[0][...] = 1
    np.testing.assert_array_equal(model.get_weights()[0], 0)
    bn = model.get_weights()
    np.testing.assert_array_equal(bn[2], 1)   # gamma
    np.testing.assert_array_equal(bn[5], 1)   # moving_variance
    assert model.count_params() == 12 + 3 + 12 + 6 + 6


def test_add_after_build_keeps_earlier_weights():
    model = nf.Sequential([nf.layers.Dense(3)], input_dim=2, seed=0)
    w = model.get_weights()
    model.add(nf.layers.Dense(1))
    new = model.get_weights()
    assert len(new) == 4
    np.testing.assert_array_equal(new[0], w[0])
    assert [l.name for l in model.layers] == ["dense", "dense_1"]


def test_batchnorm_moving_statistics_follow_keras_convention():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=3.0, scale=2.0, size=(16, 2))
    model = nf.Sequential([nf.layers.BatchNormalization(momentum=0.9)], input_dim=2, dtype="float64")
    model.compile(nf.optimizers.SGD(0.0), "mse")
    model.train_on_batch(X, np.zeros((16, 2)))
    _, _, mm, mv = model.get_weights()
    np.testing.assert_allclose(mm, 0.1 * X.mean(0), rtol=1e-12)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * X.var(0), rtol=1e-10)
    expect = (X - mm) / np.sqrt(mv + 1e-3)
    np.testing.assert_allclose(model.predict(X), expect, rtol=1e-10)   # inference: moving stats


def test_dropout_is_inverted_and_identity_in_inference():
    model = nf.Sequential([nf.layers.Dropout(0.5)], input_dim=1000, seed=0, dtype="float64")
    model.compile(nf.optimizers.SGD(0.0), "mse")
    X = np.ones((4, 1000))
    np.testing.assert_array_equal(model.predict(X), X)
    model._ensure_buffers(4)
    model._prepare_step()
    out = model._forward(X, 4, True, True)
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert 0.4 < np.mean(out == 0.0) < 0.6


def test_summary_and_count_params(capsys):
    model = classifier()
    model.summary()
    text = capsys.readouterr().out
    assert "dense (Dense)" in text and "Total params: 131" in text
    assert model.count_params() == 4 * 16 + 16 + 16 * 3 + 3


def test_verbose_modes(capsys):
    X, y = blobs(40)
    model = classifier()
    model.fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(X, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss" in out
    model.fit(X, y, epochs=2, verbose=2, validation_split=0.2)
    out = capsys.readouterr().out
    assert out.count("Epoch") == 2 and "val_loss" in out


class Recorder(nf.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls, self.batch_logs, self.epoch_logs = [], [], []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.epoch_logs.append(dict(logs))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(f"batch_begin {batch}")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch}")
        self.batch_logs.append(dict(logs))


def test_callback_hooks_params_and_logs():
    X, y = blobs(20)
    rec = Recorder()
    model = classifier()
    model.fit(X, y, epochs=2, batch_size=8, verbose=0, validation_split=0.2, callbacks=[rec])
    assert rec.calls[:6] == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0",
                             "batch_begin 1", "batch_end 1"]
    assert rec.calls[-2:] == ["epoch_end 1", "train_end"]
    assert rec.params == {"epochs": 2, "steps": 2, "verbose": 0,
                          "metrics": ["loss", "accuracy", "val_loss", "val_accuracy"]}
    assert rec.model is model
    b0, b1 = rec.batch_logs[:2]
    assert set(b0) == {"loss", "accuracy", "batch_loss", "size"}
    assert b0["size"] == 8 and b1["size"] == 8
    assert b1["loss"] == pytest.approx((b0["batch_loss"] + b1["batch_loss"]) / 2)
    assert set(rec.epoch_logs[0]) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}


def test_early_stopping_stops_and_restores_best_weights():
    X, y = blobs(100)
    model = classifier()
    model.compile(nf.optimizers.SGD(0.0), "sparse_categorical_crossentropy")  # no progress
    es = nf.callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    hist = model.fit(X, y, epochs=20, verbose=0, callbacks=[es])
    assert len(hist.history["loss"]) == 3 and es.stopped_epoch == 2

    class Record(nf.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.weights = getattr(self, "weights", []) + [self.model.get_weights()]

    model = classifier()
    rec = Record()
    es = nf.callbacks.EarlyStopping(monitor="val_loss", patience=100, restore_best_weights=True)
    hist = model.fit(X, y, epochs=6, verbose=0, validation_split=0.3, callbacks=[rec, es])
    best = int(np.argmin(hist.history["val_loss"]))
    for a, b in zip(model.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_files_appear(tmp_path):
    X, y = blobs(40)
    model = classifier()
    ck = nf.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.npz"), monitor="loss")
    model.fit(X, y, epochs=2, verbose=0, callbacks=[ck])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(f.endswith(".npz") for f in files)
    loaded = nf.load_model(tmp_path / files[-1])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_reduce_lr_on_plateau_and_learning_rate_scheduler():
    X, y = blobs(60)
    model = classifier()
    model.compile(nf.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])   # a flat plateau
    rl = nf.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    hist = model.fit(X, y, epochs=4, verbose=0, callbacks=[rl])
    assert hist.history["lr"][-1] < 0.1
    assert model.optimizer.lr_multiplier < 1.0
    sch = nf.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    hist = model.fit(X, y, epochs=3, verbose=0, callbacks=[sch])
    assert hist.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_terminate_on_nan_and_csv_logger(tmp_path, capsys):
    X, y = blobs(64)
    X[:, 0] *= 1e30
    model = nf.Sequential([nf.layers.Dense(3)], input_dim=4, seed=0)
    model.compile(nf.optimizers.SGD(1e10), "mse")
    t = nf.callbacks.TerminateOnNaN()
    log = tmp_path / "log.csv"
    model.fit(X, np.eye(3)[y], epochs=5, batch_size=8, verbose=0,
              callbacks=[t, nf.callbacks.CSVLogger(str(log))])
    assert model.stop_training and model.terminated_on_nan[0] == 0
    assert model.optimizer.iterations < 40
    assert log.read_text().splitlines()[0].startswith("epoch")


def test_frozen_layers_in_transfer_learning():
    X, y = blobs(100)
    base = classifier()
    base.fit(X, y, epochs=2, verbose=0)
    base.layers[0].trainable = False
    frozen = base.get_weights()[:2]
    base.fit(X, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(base.get_weights()[0], frozen[0])
    np.testing.assert_array_equal(base.get_weights()[1], frozen[1])
    base.layers[0].trainable = True
    base.fit(X, y, epochs=1, verbose=0)
    assert not np.array_equal(base.get_weights()[0], frozen[0])


def test_inputs_in_any_layout_and_type_are_converted():
    X, y = blobs(30)
    model = classifier()
    ref = model.predict(X)
    np.testing.assert_array_equal(model.predict(np.asfortranarray(X)), ref)
    big = np.zeros((60, 8))
    big[::2, ::2] = X
    np.testing.assert_array_equal(model.predict(big[::2, ::2]), ref)
    np.testing.assert_array_equal(model.predict(X.tolist()), ref)
    np.testing.assert_array_equal(model.predict(X.astype(np.float32)), ref)
    Xi = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(model.predict(Xi), model.predict(Xi.astype(float)))
    np.testing.assert_array_equal(model.predict(X, batch_size=7), ref)
    model.fit(X.tolist(), y.tolist(), epochs=1, verbose=0)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), batch=st.integers(1, 50), chunk=st.integers(1, 50))
def test_any_batch_size_gives_the_same_predictions_and_step_count(n, batch, chunk):
    X, y = blobs(n, seed=n)
    model = classifier(seed=1, extra=[nf.layers.LayerNormalization()])
    hist = model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
    assert model.optimizer.iterations == -(-n // batch)
    assert np.isfinite(hist.history["loss"][0])
    np.testing.assert_allclose(model.predict(X, batch_size=chunk), model.predict(X), rtol=1e-6, atol=1e-7)


def test_training_steps_allocate_no_batch_sized_temporaries():
    """Buffers are made once per fit: a whole epoch's extra peak memory stays far below the size
    of one activation buffer (only per-fit checks of X allocate, at one byte per input)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2048, 64)).astype(np.float32)
    y = rng.integers(0, 10, 2048)
    model = nf.Sequential([nf.layers.Dense(512, activation="gelu",
                                           kernel_regularizer=nf.regularizers.l2(1e-4)),
                           nf.layers.BatchNormalization(), nf.layers.Dropout(0.2),
                           nf.layers.Dense(10, activation="softmax")], input_dim=64, seed=0)
    model.compile(nf.optimizers.Adam(clipnorm=1.0), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, y, epochs=1, batch_size=256, verbose=0)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        model.fit(X, y, epochs=2, batch_size=256, verbose=0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 256 * 512 * 4 / 2, peak


def test_metrics_of_a_from_logits_model_read_probabilities():
    X, y = blobs(80, k=2)
    model = nf.Sequential([nf.layers.Dense(1)], input_dim=4, seed=0)
    model.compile(nf.optimizers.Adam(0.05), nf.losses.BinaryCrossentropy(from_logits=True),
                  metrics=["accuracy", "auc"])
    model.fit(X, y, epochs=5, verbose=0)
    logits = model.predict(X)[:, 0]
    res = model.evaluate(X, y)
    assert res["accuracy"] == pytest.approx(np.mean((logits > 0) == y))
    assert res["accuracy"] == pytest.approx(nf.metrics.accuracy(y, 1 / (1 + np.exp(-logits[:, None]))))


def test_layer_set_weights_and_keras_style_verbose_arguments():
    X, y = blobs(20)
    model = classifier()
    assert model.layers[1].get_weights() == []
    model.build()
    layer = model.layers[1]
    w = [np.ones_like(a) for a in layer.get_weights()]
    layer.set_weights(w)
    np.testing.assert_array_equal(model.get_weights()[2], 1)
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.ones((2, 2)), w[1]])
    assert model.predict(X, verbose=0).shape == (20, 3)
    assert set(model.evaluate(X, y, verbose=0)) == {"loss", "accuracy"}
    with pytest.raises(ValueError, match="verbose"):
        model.predict(X, verbose=5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_flat_objective_is_compute_gradients_over_one_vector(dtype):
    """_flat_objective (lbfgs's objective): the data checked once, then per call the weights
    from one float64 vector and compute_gradients' loss and gradients, to the bit."""
    rng = np.random.default_rng(4)
    X, y, w = rng.normal(size=(37, 5)), rng.integers(0, 3, 37), rng.random(37)

    def net():
        m = nf.Sequential([nf.layers.Dense(7, activation="tanh",
                                           kernel_regularizer=nf.regularizers.l2(0.01)),
                           nf.layers.Dense(3, activation="softmax")], input_dim=5, seed=1,
                          dtype=dtype)
        m.compile("sgd", "sparse_categorical_crossentropy")
        m.build()
        return m

    flat, ref = net(), net()
    f = flat._flat_objective(X, y, sample_weight=w)
    shapes = [a.shape for a in ref.get_weights()]
    for _ in range(3):
        x = rng.normal(size=sum(int(np.prod(s)) for s in shapes))
        loss, grad = f(x)
        parts = np.split(x, np.cumsum([int(np.prod(s)) for s in shapes])[:-1])
        ref.set_weights([p.reshape(s) for p, s in zip(parts, shapes)])
        ref_loss, ref_grads = ref.compute_gradients(X, y, sample_weight=w)
        assert loss == ref_loss and grad.dtype == np.float64
        np.testing.assert_array_equal(grad, np.concatenate([g.ravel() for g in ref_grads]))
        for a, b in zip(flat.get_weights(), ref.get_weights()):
            np.testing.assert_array_equal(a, b)
    frozen = net()
    frozen.layers[0].trainable = False
    with pytest.raises(ValueError, match="every layer trainable"):
        frozen._flat_objective(X, y)
    normed = nf.Sequential([nf.layers.BatchNormalization(), nf.layers.Dense(3)], input_dim=5)
    normed.compile("sgd", "mse")
    with pytest.raises(ValueError, match="without state"):
        normed._flat_objective(X, rng.normal(size=(37, 3)))
