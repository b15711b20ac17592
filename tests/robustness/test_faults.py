"""Interrupts and faults: Ctrl-C during fit, failing disk writes during save, NaN in training.

* ``KeyboardInterrupt`` out of a callback (``on_batch_end``, ``on_epoch_end``), out of a
  checkpoint being written, or delivered as a real SIGINT while the compiled plan trains:
  the model still predicts, ``fit`` runs again, and every checkpoint written before the
  interrupt loads (the interrupted one is not half-written: no file, no temporary left).
* A save that fails (the write or the rename raising OSError, a parent that is a regular
  file) raises an OSError that names the path, leaves the previous file byte for byte, and
  leaves no temporary file behind.
* A NaN appearing in training stops it through ``TerminateOnNaN`` with a message naming the
  epoch and the batch.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest

import nnfast as nf
import nnfast.saving


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def make(seed=0, dropout=True):
    layers = [nf.layers.Dense(16, activation="relu")]
    if dropout:
        layers.append(nf.layers.Dropout(0.2))
    layers.append(nf.layers.Dense(2, activation="softmax"))
    model = nf.Sequential(layers, input_dim=6, seed=seed)
    model.compile(nf.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class InterruptAt(nf.callbacks.Callback):
    """Raise KeyboardInterrupt at the end of batch ``batch`` of epoch ``epoch`` (or of that
    epoch, when ``batch`` is None)."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.at, self.epoch_now = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_now = epoch

    def on_batch_end(self, batch, logs=None):
        if self.at == (self.epoch_now, batch):
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        if self.at == (epoch, None):
            raise KeyboardInterrupt


def temporaries(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


def assert_usable(model, X, y):
    """Predicts finite probabilities, and trains on (loss recorded, weights change)."""
    p = model.predict(X)
    assert p.shape == (X.shape[0], 2) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    before = model.get_weights()
    history = model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def assert_checkpoints_load(paths, X):
    for path in paths:
        loaded = nf.load_model(path)
        assert np.all(np.isfinite(loaded.predict(X)))


# ------------------------------------------------------------------------------ interrupts


@pytest.mark.parametrize("at", [(1, 2), (2, None), (0, 0)],
                         ids=["batch_end", "epoch_end", "first_batch"])
def test_keyboard_interrupt_from_a_callback(tmp_path, at):
    X, y = data()
    model = make()
    ckpt = nf.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.npz"), monitor="loss")
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=5, batch_size=16, verbose=0, callbacks=[ckpt, InterruptAt(*at)])
    epoch, batch = at
    expected = epoch + (1 if batch is None else 0)  # epoch_end: ModelCheckpoint ran first
    assert len(ckpt.saved) == expected
    assert sorted(os.listdir(tmp_path)) == [f"ckpt-{e:02d}.npz" for e in range(1, expected + 1)]
    assert_checkpoints_load(ckpt.saved, X)
    assert model._fit_data is None  # the interrupted fit let go of its training arrays
    assert_usable(model, X, y)


def test_keyboard_interrupt_while_a_checkpoint_is_written(tmp_path, monkeypatch):
    X, y = data()
    model = make()
    ckpt = nf.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.npz"), monitor="loss")
    real_savez, calls = np.savez, [0]

    def savez(f, **arrays):  # the third save is interrupted after writing half its data
        calls[0] += 1
        if calls[0] == 3:
            f.write(b"PK\x03\x04" + b"\0" * 100)
            raise KeyboardInterrupt
        return real_savez(f, **arrays)

    monkeypatch.setattr(nnfast.saving.np, "savez", savez)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=5, batch_size=16, verbose=0, callbacks=[ckpt])
    monkeypatch.setattr(nnfast.saving.np, "savez", real_savez)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "ckpt-2.npz"]  # no ckpt-3, no .tmp
    assert_checkpoints_load([tmp_path / "ckpt-1.npz", tmp_path / "ckpt-2.npz"], X)
    assert_usable(model, X, y)


def test_sigint_during_compiled_training(tmp_path):
    """A real Ctrl-C: SIGINT arrives while fit runs chunks of batches in C (no callbacks with
    batch hooks, so the compiled plan trains many batches per call). It lands wherever the
    main thread is: mostly in a training chunk, sometimes between epochs or in a checkpoint
    being written; every check holds in each case."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = make(dropout=False)
    ckpt = nf.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.npz"), monitor="loss")
    first = tmp_path / "ckpt-1.npz"

    def interrupt_after_first_checkpoint():
        deadline = time.monotonic() + 60
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    killer = threading.Thread(target=interrupt_after_first_checkpoint, daemon=True)
    try:
        killer.start()
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y, epochs=100_000, batch_size=32, verbose=0, callbacks=[ckpt])
    finally:
        killer.join()
        signal.signal(signal.SIGINT, previous)
    assert 1 <= len(ckpt.saved) < 100_000
    assert temporaries(tmp_path) == []
    assert_checkpoints_load(ckpt.saved, X[:50])
    assert_usable(model, X[:96], y[:96])


# ------------------------------------------------------------------------------ disk faults


@pytest.fixture
def saved(tmp_path):
    """A model saved once at ``path`` (its bytes kept), then trained further."""
    X, y = data()
    model = make()
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    original = path.read_bytes()
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    return model, path, original


def _fail_replace(src, dst):
    raise OSError(28, "No space left on device")


def _fail_savez(f, **arrays):
    f.write(b"PK\x03\x04 partial")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("target, failing", [
    ("os.replace", _fail_replace),
    ("np.savez", _fail_savez),
], ids=["rename", "write"])
def test_failed_save_keeps_the_previous_file(saved, monkeypatch, target, failing):
    model, path, original = saved
    module, name = target.split(".")
    monkeypatch.setattr(getattr(nnfast.saving, module), name, failing)
    with pytest.raises(OSError, match="No space left on device") as info:
        model.save(path)
    assert str(path) in str(info.value)  # says which file could not be written
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert temporaries(path.parent) == []
    nf.load_model(path)


def test_save_under_a_regular_file_is_a_clear_error(saved):
    model, path, original = saved
    target = path.parent / "model.npz" / "again.npz"  # the parent is the file saved before
    with pytest.raises(OSError) as info:
        model.save(target)
    assert isinstance(info.value, (NotADirectoryError, FileNotFoundError))
    assert str(target) in str(info.value)
    assert path.read_bytes() == original


def test_checkpoint_into_an_unwritable_place_stops_fit_clearly(tmp_path):
    X, y = data()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file")
    ckpt = nf.callbacks.ModelCheckpoint(str(blocker / "ckpt-{epoch}.npz"), monitor="loss")
    model = make()
    with pytest.raises(OSError):
        model.fit(X, y, epochs=2, batch_size=16, verbose=0, callbacks=[ckpt])
    assert blocker.read_text() == "a regular file"
    assert_usable(model, X, y)


# ------------------------------------------------------------------------------ NaN


class PoisonAt(nf.callbacks.Callback):
    """Set the first kernel entry to NaN at the end of batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch_now = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_now = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch_now, batch) == self.at:
            weights = self.model.get_weights()
            weights[0].flat[0] = np.nan
            self.model.set_weights(weights)


@pytest.mark.parametrize("dropout", [True, False])
def test_nan_in_training_stops_with_epoch_and_batch(capsys, dropout):
    X, y = data()
    model = make(dropout=dropout)
    history = model.fit(X, y, epochs=5, batch_size=16, verbose=0,
                        callbacks=[PoisonAt(1, 3), nf.callbacks.TerminateOnNaN()])
    # the weight turns NaN after epoch 2's batch 4; batch 5's loss is the first NaN
    assert model.terminated_on_nan == (1, 4)
    message = "Epoch 2/5, batch 5/6: invalid loss (nan), terminating training"
    assert message in capsys.readouterr().out
    assert len(history.history["loss"]) == 2  # epoch 2 ended early, no epoch 3


def test_diverging_training_stops_with_epoch_and_batch(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 100
    y = X @ rng.normal(size=4)
    model = nf.Sequential([nf.layers.Dense(8), nf.layers.Dense(1)], input_dim=4, seed=0)
    model.compile(nf.optimizers.SGD(1.0), "mse")
    history = model.fit(X, y, epochs=50, batch_size=8, verbose=0,
                        callbacks=[nf.callbacks.TerminateOnNaN()])
    epoch, batch = model.terminated_on_nan
    out = capsys.readouterr().out
    assert f"Epoch {epoch + 1}/50, batch {batch + 1}/8: invalid loss" in out
    assert len(history.history["loss"]) == epoch + 1 < 50
