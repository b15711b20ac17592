"""nnfast.diagnostics: gradient check, activation report, gradient norms and monitor, LR finder,
plots, and argument errors.

Every tool works on a twin of the model, so most tests also check that the model is left
exactly as it was (weights, optimizer state and iterations, random generator).
"""

import sys

import numpy as np
import pytest

import nnfast as nf
from nnfast import diagnostics as D


# --------------------------------------------------------------------------- helpers

def blobs(n=64, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X[:, :k] + 0.3 * rng.normal(size=(n, k)), axis=1)
    return X, y


def mlp(layers, input_dim=4, dtype="float32", optimizer="adam",
        loss="sparse_categorical_crossentropy", seed=0):
    model = nf.Sequential(layers, input_dim=input_dim, dtype=dtype, seed=seed)
    model.compile(optimizer, loss)
    return model


def snapshot(model):
    """Everything a diagnostic must leave alone."""
    opt = model.optimizer
    return {
        "weights": model.get_weights(),
        "slots": {k: v.copy() for k, v in opt.slots.items()},
        "iterations": opt.iterations,
        "learning_rate": opt.learning_rate,
        "lr_multiplier": opt.lr_multiplier,
        "rng": model._rng.bit_generator.state,
        "trainable": [layer.trainable for layer in model.layers],
    }


def assert_unchanged(model, before):
    after = snapshot(model)
    assert len(after["weights"]) == len(before["weights"])
    for a, b in zip(after["weights"], before["weights"]):
        np.testing.assert_array_equal(a, b)
    assert sorted(after["slots"]) == sorted(before["slots"])
    for k in before["slots"]:
        np.testing.assert_array_equal(after["slots"][k], before["slots"][k])
    for key in ("iterations", "learning_rate", "lr_multiplier", "rng", "trainable"):
        assert after[key] == before[key], key


class ScaledKernelGradDense(nf.layers.Dense):
    """A Dense layer whose backward pass reports 1.1 x the true kernel gradient (a planted bug)."""

    def backward(self, dy, dx):
        out = super().backward(dy, dx)
        if self.trainable:
            self.grads["kernel"] *= 1.1
        return out


# --------------------------------------------------------------------------- gradient check

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_check_passes_on_correct_models(dtype):
    X, y = blobs()
    model = mlp([nf.layers.Dense(8, activation="tanh", kernel_regularizer=nf.regularizers.l2(1e-2)),
                 nf.layers.BatchNormalization(),
                 nf.layers.Dropout(0.3),
                 nf.layers.Dense(6, activation="gelu"),
                 nf.layers.LayerNormalization(),
                 nf.layers.Dense(3, activation="softmax")], dtype=dtype)
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    before = snapshot(model)
    result = D.gradient_check(model, X, y, sample=None)
    assert result.ok, str(result)
    names = [(r.layer, r.weight) for r in result.rows]
    assert names == [("dense", "kernel"), ("dense", "bias"), ("batch_normalization", "gamma"),
                     ("batch_normalization", "beta"), ("dense_1", "kernel"), ("dense_1", "bias"),
                     ("layer_normalization", "gamma"), ("layer_normalization", "beta"),
                     ("dense_2", "kernel"), ("dense_2", "bias")]
    assert [r.checked for r in result.rows] == [32, 8, 8, 8, 48, 6, 6, 6, 18, 3]
    assert result.max_rel_error < 1e-5  # measured 1e-9 to 2e-6: far below the 1e-4 threshold
    assert "passed" in str(result) and "FAIL" not in str(result)
    assert_unchanged(model, before)


def test_gradient_check_inference_mode_and_losses():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 3))
    for loss, out, y in [
        ("mse", nf.layers.Dense(2), rng.normal(size=(20, 2))),
        ("huber", nf.layers.Dense(2), 3 * rng.normal(size=(20, 2))),
        ("binary_crossentropy", nf.layers.Dense(1, activation="sigmoid"),
         (X[:, 0] > 0).astype(int)),
        (nf.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
         nf.layers.Dense(3), np.eye(3)[np.arange(20) % 3]),
    ]:
        model = mlp([nf.layers.Dense(5, activation="swish"), nf.layers.Dropout(0.5), out],
                    input_dim=3, loss=loss)
        for training in (True, False):
            result = D.gradient_check(model, X, y, training=training)
            assert result.ok, f"{loss} training={training}\n{result}"


def test_gradient_check_finds_a_broken_gradient():
    X, y = blobs()
    model = mlp([nf.layers.Dense(8, activation="tanh"),
                 ScaledKernelGradDense(5, activation="sigmoid"),
                 nf.layers.Dense(3, activation="softmax")])
    result = D.gradient_check(model, X, y)
    assert not result.ok
    failed = [(r.layer, r.weight) for r in result.failed()]
    assert failed == [("scaled_kernel_grad_dense", "kernel")]
    bad = result.rows[2]
    # analytic = 1.1 x numeric: relative error 0.1 / 1.1 on every entry
    assert bad.max_rel_error == pytest.approx(0.1 / 1.1, rel=1e-3)
    assert "FAIL" in str(result)
    # the planted bug only touches the kernel: the rest checks out, layers below included
    assert all(r.ok for r in result.rows if (r.layer, r.weight) != failed[0])


def test_gradient_check_samples_entries_and_skips_frozen_layers():
    X, y = blobs()
    model = mlp([nf.layers.Dense(30, activation="relu"), nf.layers.Dense(3, activation="softmax")])
    model.layers[0].trainable = False
    result = D.gradient_check(model, X, y, sample=7)
    assert [(r.layer, r.weight, r.checked) for r in result.rows] == [
        ("dense_1", "kernel", 7), ("dense_1", "bias", 3)]
    assert result.ok


# --------------------------------------------------------------------------- activation report

def test_activation_report_finds_dead_relu_units():
    X, y = blobs(n=200)
    model = mlp([nf.layers.Dense(8, activation="relu"), nf.layers.Dense(3, activation="softmax")])
    kernel, bias, k2, b2 = model.get_weights()
    bias[[1, 4, 6]] = -100.0  # far below any x @ kernel on this data: never active
    model.set_weights([kernel, bias, k2, b2])
    before = snapshot(model)
    report = D.activation_report(model, X, batch_size=64)  # several chunks
    row = report["dense"]
    assert row.dead_units == [1, 4, 6] and row.dead == pytest.approx(3 / 8)
    assert row.saturated is None  # not a saturating activation
    z = np.maximum(X.astype(np.float32) @ kernel + bias, 0.0)
    assert row.mean == pytest.approx(z.mean(), rel=1e-5)
    assert row.std == pytest.approx(z.std(), rel=1e-4)
    out = report["dense_1"]
    assert out.activation == "softmax" and out.mean == pytest.approx(1 / 3, rel=1e-5)
    assert report.n_samples == 200 and report.finite and len(report) == 2
    assert report[1] is out
    text = str(report)
    assert "dense" in text and "0.375" in text
    assert_unchanged(model, before)


def test_activation_report_saturation_nan_and_layer_types():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    model = nf.Sequential([nf.layers.Dense(6, activation="sigmoid"),
                           nf.layers.Dense(4), nf.layers.Activation("tanh"),
                           nf.layers.Dropout(0.5), nf.layers.Dense(2)], input_dim=4, seed=0)
    w = model.get_weights()
    w[0][:, :2] = 0.0
    w[1][:2] = [50.0, -50.0]   # units 0 and 1: sigmoid(+-50), saturated on every sample
    w[2][:] = 0.0
    w[3][:] = [0.0, 0.0, 10.0, 0.0]  # tanh(10) on unit 2 only
    w[4][0, 0] = np.nan
    model.set_weights(w)
    report = D.activation_report(model, X, saturation=0.01)
    sig = report["dense"]
    assert sig.saturated_units == [0, 1] and sig.saturated == pytest.approx(2 / 6)
    assert sig.saturated_outputs >= 2 / 6
    assert sig.dead is None
    tanh = report["activation"]
    assert tanh.kind == "Activation" and tanh.saturated_units == [2]
    assert tanh.saturated_outputs == pytest.approx(1 / 4)
    assert report["dense_1"].saturated is None and report["dense_1"].activation == "linear"
    last = report["dense_2"]
    assert last.nan == 100 and last.inf == 0  # one NaN weight poisons column 0 of every row
    assert not report.finite
    with pytest.raises(KeyError, match="dense_9"):
        report["dense_9"]


# --------------------------------------------------------------------------- gradient norms

def test_gradient_norms_match_compute_gradients():
    X, y = blobs()
    model = mlp([nf.layers.Dense(8, activation="relu"), nf.layers.Dense(3, activation="softmax")])
    model.fit(X, y, epochs=1, verbose=0)
    before = snapshot(model)
    norms = D.gradient_norms(model, X, y)
    assert_unchanged(model, before)
    loss, grads = model.compute_gradients(X, y)
    expected = [float(np.linalg.norm(g.astype(np.float64))) for g in grads]
    assert list(norms.tensors) == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    np.testing.assert_allclose(list(norms.tensors.values()), expected, rtol=1e-6)
    np.testing.assert_allclose(norms.layers["dense"], np.hypot(expected[0], expected[1]), rtol=1e-6)
    assert norms.loss == pytest.approx(loss, rel=1e-6)
    assert norms.global_norm == pytest.approx(np.linalg.norm(expected), rel=1e-6)
    assert "dense_1" in str(norms)


def test_gradient_norms_with_dropout_are_repeatable():
    X, y = blobs()
    model = mlp([nf.layers.Dense(8, activation="relu"), nf.layers.Dropout(0.5),
                 nf.layers.Dense(3, activation="softmax")])
    a = D.gradient_norms(model, X, y)
    b = D.gradient_norms(model, X, y)
    c = D.gradient_norms(model, X, y, seed=1)
    assert a.tensors == b.tensors
    assert a.tensors != c.tensors  # another seed, other masks
    inference = D.gradient_norms(model, X, y, training=False)
    _, grads = model.compute_gradients(X, y, training=False)
    assert inference.tensors["dense/kernel"] == pytest.approx(float(np.linalg.norm(grads[0])),
                                                              rel=1e-6)


# --------------------------------------------------------------------------- GradientMonitor

def _dropout_model():
    return mlp([nf.layers.Dense(16, activation="relu"), nf.layers.Dropout(0.3),
                nf.layers.Dense(3, activation="softmax")], seed=3)


@pytest.mark.parametrize("given_data", [False, True])
def test_gradient_monitor_leaves_training_bit_identical(given_data):
    X, y = blobs(n=150)
    plain, watched = _dropout_model(), _dropout_model()
    h1 = plain.fit(X, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0)
    monitor = (D.GradientMonitor(X[:40], y[:40]) if given_data
               else nf.callbacks.GradientMonitor(sample=50))
    h2 = watched.fit(X, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0,
                     callbacks=[monitor])
    assert_unchanged(watched, snapshot(plain))
    assert h1.history == h2.history
    assert monitor.epochs == [0, 1, 2, 3]
    assert list(monitor.history) == ["dense", "dense_1"]  # Dropout has no weights
    assert all(len(v) == 4 for v in monitor.history.values())
    assert all(len(v) == 4 for v in monitor.tensor_history.values())
    assert len(monitor.losses) == 4
    assert all(np.isfinite(v).all() and min(v) > 0 for v in monitor.history.values())
    # the last epoch's entry is the gradient norm of the trained weights on the monitor's data
    data = (X[:40], y[:40]) if given_data else None
    if data is not None:
        norms = D.gradient_norms(watched, *data)
        assert monitor.history["dense"][-1] == pytest.approx(norms.layers["dense"], rel=1e-6)
    assert watched._fit_data is None  # fit does not keep the training data afterwards


def test_gradient_monitor_shows_vanishing_gradients_in_a_deep_sigmoid_net():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 10))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = mlp([nf.layers.Dense(32, activation="sigmoid") for _ in range(6)]
                + [nf.layers.Dense(1, activation="sigmoid")], input_dim=10,
                optimizer=nf.optimizers.SGD(0.1), loss="binary_crossentropy")
    monitor = D.GradientMonitor(sample=128)
    model.fit(X, y, epochs=3, batch_size=32, verbose=0, callbacks=[monitor])
    names = [layer.name for layer in model.layers]
    assert list(monitor.history) == names
    for epoch in range(3):
        first, last = monitor.history[names[0]][epoch], monitor.history[names[-1]][epoch]
        assert first < 0.01 * last  # measured ~1e-4 vs ~0.06: each sigmoid layer shrinks it ~4x
    # ... and the norms shrink from each layer to the one below (the vanishing pattern)
    norms = [monitor.history[n][0] for n in names]
    assert sum(a < b for a, b in zip(norms, norms[1:])) >= len(names) - 2
    assert names[0] in str(monitor)


def test_gradient_monitor_resets_between_fits():
    X, y = blobs()
    model = _dropout_model()
    monitor = D.GradientMonitor()
    model.fit(X, y, epochs=2, verbose=0, callbacks=[monitor])
    model.fit(X, y, epochs=3, verbose=0, callbacks=[monitor])
    assert monitor.epochs == [0, 1, 2] and all(len(v) == 3 for v in monitor.history.values())


# --------------------------------------------------------------------------- LR finder

def _lr_model(optimizer="sgd"):
    return mlp([nf.layers.Dense(16, activation="relu"), nf.layers.Dropout(0.1),
                nf.layers.Dense(2, activation="softmax")], optimizer=optimizer)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_lr_finder_suggests_below_the_blow_up_and_leaves_the_model(optimizer):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    model = _lr_model(optimizer)
    model.fit(X, y, epochs=1, verbose=0)  # optimizer state and iterations are not fresh
    before = snapshot(model)
    result = D.lr_finder(model, X, y, start=1e-5, end=1e3, num=100, batch_size=32)
    assert_unchanged(model, before)
    assert result.diverged_lr is not None  # lr 1e3 blows any of these up
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses) < 100
    np.testing.assert_allclose(result.lrs, 1e-5 * 1e8 ** (np.arange(len(result.lrs)) / 99))
    assert result.lrs[-1] == result.diverged_lr
    assert result.losses[-1] > 4.0 * min(result.losses)
    assert result.suggestion == pytest.approx(result.min_loss_lr / 10)
    assert result.suggestion < result.min_loss_lr < result.diverged_lr
    assert result.steepest is not None and result.steepest <= result.min_loss_lr
    assert "suggestion" in str(result)
    # the suggestion trains: a few epochs at it lower the loss
    fresh = _lr_model(optimizer)
    start = fresh.evaluate(X, y)["loss"]
    fresh.optimizer.learning_rate = result.suggestion
    fresh.fit(X, y, epochs=3, verbose=0)
    assert fresh.evaluate(X, y)["loss"] < 0.8 * start


def test_lr_finder_smoothing_and_full_run():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = (X[:, 0] > 0).astype(int)
    model = _lr_model()
    result = D.lr_finder(model, X, y, start=1e-6, end=1e-4, num=12, batch_size=40, beta=0.5)
    assert result.diverged_lr is None and len(result.lrs) == 12  # too small to diverge
    avg, expected = 0.0, []
    for i, loss in enumerate(result.raw_losses):
        avg = 0.5 * avg + 0.5 * loss
        expected.append(avg / (1 - 0.5 ** (i + 1)))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-12)


# --------------------------------------------------------------------------- plots

def _png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = mlp([nf.layers.Dense(8, activation="tanh"), nf.layers.Dense(1, activation="sigmoid")],
                input_dim=2, loss="binary_crossentropy")
    monitor = D.GradientMonitor()
    model.fit(X, y, epochs=3, verbose=0, callbacks=[monitor])
    figs = {
        "lr.png": D.lr_finder(model, X, y, num=30).plot(tmp_path / "lr.png"),
        "norms.png": monitor.plot(tmp_path / "norms.png"),
        "boundary.png": D.plot_decision_boundary(model, X, y, tmp_path / "boundary.png",
                                                 resolution=50, title="xor"),
    }
    three = mlp([nf.layers.Dense(8, activation="relu"), nf.layers.Dense(3, activation="softmax")],
                input_dim=2)
    figs["classes.png"] = D.plot_decision_boundary(three, X, np.eye(3)[np.arange(120) % 3],
                                                   path=tmp_path / "classes.png", resolution=40)
    regression = mlp([nf.layers.Dense(4, activation="tanh"), nf.layers.Dense(1)], input_dim=2,
                     loss="mse")
    figs["values.png"] = D.plot_decision_boundary(regression, X, path=tmp_path / "values.png")
    for name, fig in figs.items():
        assert isinstance(fig, Figure)
        _png(tmp_path / name)
    assert isinstance(monitor.plot(log=False), Figure)  # no path: nothing written


def test_plots_without_matplotlib_say_how_to_install(monkeypatch):
    X, y = blobs(k=2)
    model = _lr_model()
    result = D.lr_finder(model, X, y, num=5)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        result.plot()


# --------------------------------------------------------------------------- errors

def test_bad_models_raise():
    X, y = blobs()
    with pytest.raises(TypeError, match="model"):
        D.gradient_check("model", X, y)
    uncompiled = nf.Sequential([nf.layers.Dense(3)], input_dim=4)
    for tool in (D.gradient_check, D.gradient_norms, D.lr_finder):
        with pytest.raises(ValueError, match="compile"):
            tool(uncompiled, X, y)
    unbuilt = nf.Sequential([nf.layers.Dense(3, activation="softmax")])
    unbuilt.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="not built"):
        D.gradient_check(unbuilt, X, y)
    with pytest.raises(ValueError, match="not built"):
        D.activation_report(nf.Sequential([nf.layers.Dense(3)]), X)
    with pytest.raises(ValueError, match="2 inputs"):
        D.plot_decision_boundary(uncompiled, X, y)


def test_bad_data_raise():
    X, y = blobs(k=2)
    model = _lr_model()
    wrong = X[:, :3]
    for call in (lambda: D.gradient_check(model, wrong, y),
                 lambda: D.gradient_norms(model, wrong, y),
                 lambda: D.lr_finder(model, wrong, y),
                 lambda: D.activation_report(model, wrong)):
        with pytest.raises(ValueError, match=r"X with 4 features"):
            call()
    with pytest.raises(ValueError, match="same number of samples"):
        D.gradient_check(model, X, y[:10])
    with pytest.raises(ValueError, match="X and y together"):
        D.GradientMonitor(X)
    with pytest.raises(ValueError, match="sample_weight"):
        D.GradientMonitor(sample_weight=np.ones(3))
    monitor = D.GradientMonitor(wrong, y)
    with pytest.raises(ValueError, match="X with 4 features"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[monitor])
    with pytest.raises(ValueError, match="recorded epochs"):
        D.GradientMonitor().plot()
    two = mlp([nf.layers.Dense(1, activation="sigmoid")], input_dim=2, loss="binary_crossentropy")
    with pytest.raises(ValueError, match="one label per row"):
        D.plot_decision_boundary(two, np.zeros((5, 2)), np.zeros(4))


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(start=1.0, end=1.0), ValueError, "start < end"),
    (dict(start=10.0, end=1.0), ValueError, "start < end"),
    (dict(start=0.0), ValueError, "start"),
    (dict(end=-1.0), ValueError, "end"),
    (dict(start="a"), TypeError, "start"),
    (dict(num=1), ValueError, "num"),
    (dict(num=2.5), TypeError, "num"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(beta=1.0), ValueError, "beta"),
    (dict(diverge=1.0), ValueError, "diverge"),
])
def test_lr_finder_bad_arguments(kwargs, exc, name):
    X, y = blobs(k=2)
    with pytest.raises(exc, match=name):
        D.lr_finder(_lr_model(), X, y, **kwargs)


@pytest.mark.parametrize("call, exc, name", [
    (lambda m, X, y: D.gradient_check(m, X, y, eps=0.0), ValueError, "eps"),
    (lambda m, X, y: D.gradient_check(m, X, y, sample=0), ValueError, "sample"),
    (lambda m, X, y: D.gradient_check(m, X, y, threshold=-1.0), ValueError, "threshold"),
    (lambda m, X, y: D.gradient_check(m, X, y, training="yes"), TypeError, "training"),
    (lambda m, X, y: D.gradient_norms(m, X, y, seed=-1), ValueError, "seed"),
    (lambda m, X, y: D.activation_report(m, X, saturation=0.5), ValueError, "saturation"),
    (lambda m, X, y: D.activation_report(m, X, batch_size=0), ValueError, "batch_size"),
    (lambda m, X, y: D.GradientMonitor(sample=0), ValueError, "sample"),
    (lambda m, X, y: D.GradientMonitor(training=1.0), TypeError, "training"),
])
def test_other_bad_arguments(call, exc, name):
    X, y = blobs(k=2)
    with pytest.raises(exc, match=name):
        call(_lr_model(), X, y)


def test_exports():
    assert nf.callbacks.GradientMonitor is D.GradientMonitor
    assert set(D.__all__) >= {"gradient_check", "activation_report", "gradient_norms",
                              "GradientMonitor", "lr_finder", "plot_decision_boundary"}
