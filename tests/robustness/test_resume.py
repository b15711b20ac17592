"""Resuming: save in the middle of training, load, continue — bit for bit the uninterrupted run.

Same seed and thread count, shuffle=True and Dropout on, so the saved random generator state
decides the next epoch's order and the next dropout masks; Adam (moments, step count behind
the bias correction and the schedule) and SGD with momentum (its buffer). Three ways in:

* a ModelCheckpoint file written by a running ``fit`` at the end of an epoch, loaded and
  trained for the remaining epochs;
* a file written by a callback in the middle of an epoch (after a given batch), loaded and
  driven by ``train_on_batch`` over the rest of the batches, in the order the running fit
  used;
* a hand-written loop of ``train_on_batch`` saved after step k and continued from the file.
"""

import numpy as np
import pytest

import nnfast as nf

EPOCHS, BATCH = 4, 16


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


OPTIMIZERS = {
    "adam": lambda: nf.optimizers.Adam(nf.schedules.CosineDecay(0.01, 60)),
    "sgd_momentum": lambda: nf.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda: nf.optimizers.SGD(0.05, momentum=0.9, nesterov=True,
                                              weight_decay=1e-4),
}


def make(optimizer, dtype="float32", norm=False):
    layers = [nf.layers.Dense(16, activation="relu", kernel_regularizer=nf.regularizers.l2(1e-4)),
              nf.layers.Dropout(0.3)]
    if norm:  # moving statistics in the file too
        layers.append(nf.layers.BatchNormalization(momentum=0.9))
    layers += [nf.layers.Dense(8, activation="tanh"), nf.layers.Dropout(0.1),
               nf.layers.Dense(3, activation="softmax")]
    model = nf.Sequential(layers, input_dim=5, dtype=dtype, seed=7)
    model.compile(OPTIMIZERS[optimizer](), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def assert_same_state(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert wa.dtype == wb.dtype
        np.testing.assert_array_equal(wa, wb)
    assert a.optimizer.iterations == b.optimizer.iterations
    assert sorted(a.optimizer.slots) == sorted(b.optimizer.slots)
    for k, buf in a.optimizer.slots.items():
        np.testing.assert_array_equal(buf, b.optimizer.slots[k])
    assert a._rng.bit_generator.state == b._rng.bit_generator.state


CASES = [("adam", "float32", False), ("sgd_momentum", "float32", False),
         ("sgd_nesterov", "float64", False), ("adam", "float32", True),
         ("sgd_momentum", "float64", True)]
IDS = [f"{o}-{d}{'-bn' if n else ''}" for o, d, n in CASES]


@pytest.mark.parametrize("optimizer, dtype, norm", CASES, ids=IDS)
def test_resume_from_an_epoch_checkpoint(tmp_path, optimizer, dtype, norm):
    X, y = data()
    straight = make(optimizer, dtype, norm)
    ckpt = nf.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.npz"), monitor="loss")
    h_straight = straight.fit(X, y, epochs=EPOCHS, batch_size=BATCH, shuffle=True,
                              validation_split=0.2, verbose=0, callbacks=[ckpt])
    for done in (1, 2):  # resume after epoch 1 and after epoch 2
        resumed = nf.load_model(tmp_path / f"ckpt-{done}.npz")
        h = resumed.fit(X, y, epochs=EPOCHS - done, batch_size=BATCH, shuffle=True,
                        validation_split=0.2, verbose=0)
        assert h.history["loss"] == h_straight.history["loss"][done:]
        assert h.history["val_loss"] == h_straight.history["val_loss"][done:]
        assert_same_state(straight, resumed)
        np.testing.assert_array_equal(resumed.predict(X), straight.predict(X))


class SaveAfterBatch(nf.callbacks.Callback):
    """Save the model after batch ``batch`` of epoch ``epoch``; remember that epoch's order."""

    def __init__(self, path, epoch, batch):
        super().__init__()
        self.path, self.at, self.epoch_now = path, (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_now = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch_now, batch) == self.at:
            self.model.save(self.path)


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_resume_from_the_middle_of_an_epoch(tmp_path, optimizer):
    """fit shuffles each epoch with the model's generator: the order of the interrupted epoch
    is re-derived from the generator state saved before it (the previous epoch's checkpoint),
    the remaining batches go through train_on_batch, then fit runs the last epochs."""
    X, y = data()
    n, steps = X.shape[0], -(-X.shape[0] // BATCH)
    straight = make(optimizer)
    ckpt = nf.callbacks.ModelCheckpoint(str(tmp_path / "epoch-{epoch}.npz"), monitor="loss")
    mid = SaveAfterBatch(str(tmp_path / "mid.npz"), epoch=2, batch=3)
    straight.fit(X, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=[ckpt, mid])

    # the order fit used in epoch 3 (index 2): from the generator as it was after epoch 2
    gen = nf.load_model(tmp_path / "epoch-2.npz")._rng
    order = np.arange(n)
    gen.shuffle(order)

    resumed = nf.load_model(tmp_path / "mid.npz")
    for b in range(4, steps):  # batches 4.. of epoch 3
        rows = order[b * BATCH:(b + 1) * BATCH]
        resumed.train_on_batch(X[rows], y[rows])
    resumed.fit(X, y, epochs=EPOCHS - 3, batch_size=BATCH, verbose=0)
    assert_same_state(straight, resumed)


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "sgd_nesterov"])
def test_resume_a_train_on_batch_loop(tmp_path, optimizer):
    X, y = data()
    batches = np.random.default_rng(1).integers(0, X.shape[0], size=(30, BATCH))

    straight = make(optimizer)
    losses = [straight.train_on_batch(X[b], y[b]) for b in batches]

    first = make(optimizer)
    for b in batches[:11]:
        first.train_on_batch(X[b], y[b])
    first.save(tmp_path / "step-11.npz")
    resumed = nf.load_model(tmp_path / "step-11.npz")
    assert [resumed.train_on_batch(X[b], y[b]) for b in batches[11:]] == losses[11:]
    assert_same_state(straight, resumed)


def test_epoch_losses_do_not_depend_on_the_chunk_size(monkeypatch):
    """fit's compiled plan runs batches in chunks sized by a timing; the epoch loss is summed
    batch by batch, so a resumed run (timed anew) reports the same losses to the last bit."""
    import nnfast._plan_fit as plan_fit

    X, y = data(n=1000)  # 63 batches an epoch: a dot product over a chunk rounds differently
    histories = []
    for seconds in (1e-9, 10.0):  # one batch per chunk, one chunk per epoch
        monkeypatch.setattr(plan_fit, "CHUNK_SECONDS", seconds)
        model = make("sgd_momentum", "float64")
        histories.append(model.fit(X, y, epochs=3, batch_size=BATCH, verbose=0).history["loss"])
    assert histories[0] == histories[1]
