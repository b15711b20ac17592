"""Callbacks, driven by a small fake model that keeps the model/callback contract.

The fake model's weights after epoch ``e`` are filled with the value ``e``, so a test can tell
which epoch's weights a callback restored or saved. Its loop calls the hooks in the order the
real ``fit`` does, with epoch-end logs the test controls.
"""

import csv
import io
import json
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from helpers import torch_or_skip

import nnfast.callbacks as C
import nnfast.schedules as sch


# --------------------------------------------------------------------------- the fake model

class FakeOptimizer:
    """learning_rate (float or schedule), lr_multiplier, iterations, current_learning_rate()."""

    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate
        self.lr_multiplier = 1.0
        self.iterations = 0

    def current_learning_rate(self):
        lr = self.learning_rate
        if callable(lr):
            lr = lr(self.iterations)
        return float(lr) * self.lr_multiplier


class FakeModel:
    def __init__(self, learning_rate=0.1):
        self.weights = [np.zeros((3, 2)), np.zeros(2)]
        self.optimizer = FakeOptimizer(learning_rate)
        self.stop_training = False
        self.epochs_run = 0
        self.batches_run = []
        self.lr_seen = []  # learning rate used in each epoch's batches

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"weight": float(self.weights[0].flat[0])}, f)
        os.replace(tmp, path)  # atomic, as the real model

    def weight_value(self):
        return float(self.weights[0].flat[0])

    def fit(self, epoch_logs, callbacks, steps=3, batch_loss=None, verbose=0, metrics=("accuracy",)):
        """Run ``len(epoch_logs)`` epochs; epoch ``e`` ends with the logs ``epoch_logs[e]``."""
        cbl = C.CallbackList(callbacks, model=self, params={
            "epochs": len(epoch_logs), "steps": steps, "verbose": verbose,
            "metrics": ["loss", *metrics, "val_loss", *("val_" + m for m in metrics)],
        })
        self.stop_training = False
        self.epochs_run, self.batches_run = 0, []
        cbl.on_train_begin()
        logs = {}
        for epoch, end_logs in enumerate(epoch_logs):
            cbl.on_epoch_begin(epoch)
            self.lr_seen.append(self.optimizer.current_learning_rate())
            total, done = 0.0, 0
            for b in range(steps):
                cbl.on_train_batch_begin(b)
                loss = 1.0 if batch_loss is None else batch_loss(epoch, b)
                self.optimizer.iterations += 1
                total, done = total + loss, done + 1
                cbl.on_train_batch_end(b, {"loss": total / done, "accuracy": 0.5,
                                           "batch_loss": loss, "size": 4})
                self.batches_run.append((epoch, b))
                if self.stop_training:
                    break
            self.weights = [np.full_like(w, epoch) for w in self.weights]
            logs = {"loss": total / done, **end_logs, "lr": self.optimizer.current_learning_rate()}
            cbl.on_epoch_end(epoch, logs)
            self.epochs_run = epoch + 1
            if self.stop_training:
                break
        cbl.on_train_end(logs)
        return self


def val(*values, key="val_loss"):
    return [{key: v} for v in values]


class Recorder(C.Callback):
    """Records every hook call."""

    def on_train_begin(self, logs=None):
        self.calls = ["train_begin"]

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


# --------------------------------------------------------------------------- base / list / history

def test_callback_list_dispatches_in_order_and_sets_model_and_params():
    a, b = Recorder(), Recorder()
    model = FakeModel().fit(val(1.0, 0.5), [a, b], steps=2)
    assert a.model is model and b.model is model
    assert a.params["epochs"] == 2 and a.params["steps"] == 2 and "val_accuracy" in a.params["metrics"]
    assert a.calls == b.calls
    assert [c if isinstance(c, str) else c[:2] for c in a.calls] == [
        "train_begin", ("epoch_begin", 0), ("batch_end", 0), ("batch_end", 1), ("epoch_end", 0),
        ("epoch_begin", 1), ("batch_end", 0), ("batch_end", 1), ("epoch_end", 1), "train_end"]


def test_callback_base_hooks_are_no_ops():
    cb = C.Callback()
    cb.set_model(object())
    cb.set_params({"epochs": 1})
    for hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
                 "on_predict_begin", "on_predict_end"):
        assert getattr(cb, hook)() is None
    for hook in ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
                 "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
                 "on_predict_batch_end", "on_batch_begin", "on_batch_end"):
        assert getattr(cb, hook)(0, {}) is None
    cbl = C.CallbackList([cb])
    cbl.on_test_begin(), cbl.on_predict_end(), cbl.on_test_batch_end(0)
    assert len(cbl) == 1 and list(cbl) == [cb]


def test_old_style_batch_hooks_still_fire():
    class Old(C.Callback):
        seen = 0

        def on_batch_end(self, batch, logs=None):
            self.seen += 1

    cb = Old()
    FakeModel().fit(val(1.0), [cb], steps=4)
    assert cb.seen == 4


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="Expected callbacks to be nnfast.callbacks.Callback instances"):
        C.CallbackList([C.EarlyStopping])  # the class, not an instance
    with pytest.raises(TypeError, match="received: str"):
        C.CallbackList(["early_stopping"])


def test_history_records_each_epoch_and_resets_per_training():
    h = C.History()
    model = FakeModel()
    model.fit([{"val_loss": 0.9, "accuracy": 0.5}, {"val_loss": 0.7, "accuracy": 0.6}], [h])
    assert h.epoch == [0, 1]
    assert h.history["val_loss"] == [0.9, 0.7] and h.history["accuracy"] == [0.5, 0.6]
    assert h.history["lr"] == [0.1, 0.1] and h.history["loss"] == [1.0, 1.0]
    assert all(type(v) is float for v in h.history["val_loss"])
    assert h.model is model
    model.fit(val(0.3), [h])
    assert h.epoch == [0] and h.history["val_loss"] == [0.3]


def test_history_keeps_lists_aligned_when_a_key_comes_and_goes():
    h = C.History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.8, "val_loss": 0.9})
    h.on_epoch_end(2, {"loss": 0.7})
    assert h.history["loss"] == [1.0, 0.8, 0.7]
    assert math.isnan(h.history["val_loss"][0]) and h.history["val_loss"][1] == 0.9
    assert math.isnan(h.history["val_loss"][2])


def test_history_plot_writes_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    h = C.History()
    FakeModel().fit([{"val_loss": 0.9, "accuracy": 0.5, "val_accuracy": 0.4}] * 3, [h])
    path = tmp_path / "history.png"
    fig = h.plot(path)
    assert path.exists() and path.stat().st_size > 0 and len(fig.axes) >= 2


# --------------------------------------------------------------------------- monitor base

@pytest.mark.parametrize("monitor, maximize", [
    ("val_loss", False), ("loss", False), ("mae", False), ("val_mse", False),
    ("accuracy", True), ("val_acc", True), ("auc", True), ("val_precision", True),
    ("recall", True), ("val_f1", True), ("categorical_accuracy", True), ("f1_score", True),
])
def test_monitor_auto_mode(monitor, maximize):
    assert C.MonitorCallback(monitor).maximize is maximize
    assert C.MonitorCallback(monitor, mode="min").maximize is False
    assert C.MonitorCallback(monitor, mode="max").maximize is True


def test_monitor_improvement_with_min_delta():
    low = C.MonitorCallback("val_loss", min_delta=0.1)
    assert low._is_improvement(0.85, 1.0) and not low._is_improvement(0.95, 1.0)
    assert not low._is_improvement(float("nan"), 1.0)
    assert low._is_improvement(0.5, math.inf)
    high = C.MonitorCallback("val_accuracy", min_delta=0.01)
    assert high._is_improvement(0.92, 0.9) and not high._is_improvement(0.905, 0.9)


@pytest.mark.parametrize("make, exc, name", [
    (lambda: C.MonitorCallback(monitor=3), TypeError, "monitor"),
    (lambda: C.MonitorCallback(mode="biggest"), ValueError, "mode"),
    (lambda: C.MonitorCallback(min_delta=-0.1), ValueError, "min_delta"),
    (lambda: C.EarlyStopping(patience=-1), ValueError, "patience"),
    (lambda: C.EarlyStopping(patience=1.5), TypeError, "patience"),
    (lambda: C.EarlyStopping(baseline="low"), TypeError, "baseline"),
    (lambda: C.EarlyStopping(start_from_epoch=-2), ValueError, "start_from_epoch"),
    (lambda: C.EarlyStopping(restore_best_weights="yes"), TypeError, "restore_best_weights"),
    (lambda: C.ReduceLROnPlateau(factor=1.0), ValueError, "factor"),
    (lambda: C.ReduceLROnPlateau(factor=0.0), ValueError, "factor"),
    (lambda: C.ReduceLROnPlateau(cooldown=-1), ValueError, "cooldown"),
    (lambda: C.ReduceLROnPlateau(min_lr=-1e-3), ValueError, "min_lr"),
    (lambda: C.ReduceLROnPlateau(patience=-3), ValueError, "patience"),
    (lambda: C.ModelCheckpoint(3.5), TypeError, "filepath"),
    (lambda: C.ModelCheckpoint(""), ValueError, "filepath"),
    (lambda: C.ModelCheckpoint("m-{epoch"), ValueError, "filepath"),
    (lambda: C.ModelCheckpoint("m.npz", save_best_only=2), TypeError, "save_best_only"),
    (lambda: C.CSVLogger(None), TypeError, "path"),
    (lambda: C.CSVLogger("log.csv", separator=";;"), ValueError, "separator"),
    (lambda: C.LearningRateScheduler(0.1), TypeError, "schedule"),
    (lambda: C.ProgbarLogger(verbose=3), ValueError, "verbose"),
    (lambda: C.ProgbarLogger(interval=-1), ValueError, "interval"),
])
def test_bad_arguments_name_the_argument(make, exc, name):
    with pytest.raises(exc, match=rf"Expected {name}\b.*received: {name}="):
        make()


# --------------------------------------------------------------------------- EarlyStopping

def test_early_stopping_stops_after_patience_and_restores_best():
    stop = C.EarlyStopping(patience=2, restore_best_weights=True)
    model = FakeModel().fit(val(1.0, 0.8, 0.9, 0.85, 0.1, 0.1), [stop])
    assert model.epochs_run == 4  # best at epoch 1, then epochs 2 and 3 without improvement
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1 and stop.best == 0.8
    assert model.weight_value() == 1.0  # epoch 1's weights are back


def test_early_stopping_restores_best_even_when_training_ran_to_the_end():
    stop = C.EarlyStopping(patience=5, restore_best_weights=True)
    model = FakeModel().fit(val(1.0, 0.5, 0.6, 0.7), [stop])
    assert model.epochs_run == 4 and stop.stopped_epoch == 0 and not model.stop_training
    assert model.weight_value() == 1.0  # the Keras bug: it would keep epoch 3's weights


def test_early_stopping_without_restore_keeps_the_last_weights():
    stop = C.EarlyStopping(patience=1)
    model = FakeModel().fit(val(1.0, 0.5, 0.6, 0.7), [stop])
    assert model.epochs_run == 3 and stop.stopped_epoch == 2
    assert model.weight_value() == 2.0 and stop.best_weights is None


def test_early_stopping_patience_zero_stops_at_the_first_non_improvement():
    stop = C.EarlyStopping()
    model = FakeModel().fit(val(1.0, 0.9, 0.8, 0.85, 0.5), [stop])
    assert model.epochs_run == 4 and stop.stopped_epoch == 3


def test_early_stopping_never_stops_while_improving():
    stop = C.EarlyStopping(patience=0)
    model = FakeModel().fit(val(5.0, 4.0, 3.0, 2.0, 1.0), [stop])
    assert model.epochs_run == 5 and stop.stopped_epoch == 0


def test_early_stopping_min_delta():
    stop = C.EarlyStopping(patience=2, min_delta=0.1)
    model = FakeModel().fit(val(1.0, 0.95, 0.92, 0.91, 0.5), [stop])
    assert model.epochs_run == 3 and stop.stopped_epoch == 2 and stop.best == 1.0
    stop = C.EarlyStopping(patience=2, min_delta=0.1)
    model = FakeModel().fit(val(1.0, 0.85, 0.84, 0.7, 0.69, 0.68), [stop])
    assert stop.best == 0.7 and model.epochs_run == 6 and stop.stopped_epoch == 5


def test_early_stopping_auto_mode_maximises_accuracy():
    stop = C.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)
    model = FakeModel().fit(val(0.5, 0.6, 0.55, 0.58, 0.9, key="val_accuracy"), [stop])
    assert model.epochs_run == 4 and stop.best == 0.6 and model.weight_value() == 1.0


def test_early_stopping_explicit_mode_overrides_the_name():
    stop = C.EarlyStopping(monitor="val_accuracy", mode="min", patience=1)
    model = FakeModel().fit(val(0.5, 0.6, 0.7, key="val_accuracy"), [stop])
    assert model.epochs_run == 2 and stop.best == 0.5


def test_early_stopping_baseline():
    # never beats the baseline: stops once patience epochs are used up
    stop = C.EarlyStopping(patience=2, baseline=0.5, restore_best_weights=True)
    model = FakeModel().fit(val(0.9, 0.85, 0.8, 0.75, 0.4), [stop])
    assert model.epochs_run == 2 and stop.stopped_epoch == 1
    assert model.weight_value() == 1.0  # the best seen (0.85) is still restored
    # beating the baseline resets the counter as usual
    stop = C.EarlyStopping(patience=2, baseline=0.5)
    model = FakeModel().fit(val(0.4, 0.45, 0.3, 0.35, 0.36, 0.1), [stop])
    assert model.epochs_run == 5 and stop.best == 0.3


def test_early_stopping_start_from_epoch():
    stop = C.EarlyStopping(patience=1, start_from_epoch=2, restore_best_weights=True)
    model = FakeModel().fit(val(0.1, 0.2, 3.0, 4.0, 0.0), [stop])
    assert model.epochs_run == 4 and stop.best == 3.0 and model.weight_value() == 2.0


def test_early_stopping_nan_is_never_an_improvement():
    stop = C.EarlyStopping(patience=1, restore_best_weights=True)
    model = FakeModel().fit(val(1.0, float("nan"), 0.2), [stop])
    assert model.epochs_run == 2 and model.weight_value() == 0.0


def test_early_stopping_state_resets_between_trainings():
    stop = C.EarlyStopping(patience=1, restore_best_weights=True)
    FakeModel().fit(val(0.1, 0.5, 0.6), [stop])
    assert stop.stopped_epoch == 1
    model = FakeModel().fit(val(3.0, 2.0, 1.0), [stop])
    assert model.epochs_run == 3 and stop.stopped_epoch == 0 and stop.best == 1.0
    assert model.weight_value() == 2.0


def test_early_stopping_warns_when_the_monitor_is_missing():
    stop = C.EarlyStopping(monitor="val_auc", patience=0)
    with pytest.warns(UserWarning, match="'val_auc' is not in the logs"):
        model = FakeModel().fit(val(1.0, 2.0, 3.0), [stop])
    assert model.epochs_run == 3 and stop.stopped_epoch == 0


def test_early_stopping_verbose_messages(capsys):
    stop = C.EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    FakeModel().fit(val(1.0, 0.5, 0.6, 0.7), [stop])
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "best epoch: 2" in out


# --------------------------------------------------------------------------- ModelCheckpoint

def test_checkpoint_every_epoch_with_epoch_formatting(tmp_path):
    ckpt = C.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.json"))
    FakeModel().fit(val(1.0, 2.0, 3.0), [ckpt])
    assert sorted(os.listdir(tmp_path)) == ["m-01.json", "m-02.json", "m-03.json"]
    assert json.load(open(tmp_path / "m-02.json"))["weight"] == 1.0
    assert ckpt.saved == [str(tmp_path / f"m-0{e}.json") for e in (1, 2, 3)]


def test_checkpoint_save_best_only(tmp_path):
    ckpt = C.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.json"), save_best_only=True)
    FakeModel().fit(val(1.0, 1.2, 0.8, 0.9, 0.8), [ckpt])
    assert sorted(os.listdir(tmp_path)) == ["m-01.json", "m-03.json"]  # improvements only
    best = C.ModelCheckpoint(tmp_path / "best.json", save_best_only=True)  # a path-like works too
    FakeModel().fit(val(1.0, 1.2, 0.8, 0.9), [best])
    assert json.load(open(tmp_path / "best.json"))["weight"] == 2.0  # epoch 2 (0.8) was best
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


def test_checkpoint_metric_fields_mode_and_folders(tmp_path):
    path = str(tmp_path / "runs" / "acc-{val_accuracy:.2f}-e{epoch}.json")
    ckpt = C.ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)
    FakeModel().fit(val(0.5, 0.75, 0.6, key="val_accuracy"), [ckpt])
    assert sorted(os.listdir(tmp_path / "runs")) == ["acc-0.50-e1.json", "acc-0.75-e2.json"]


def test_checkpoint_unknown_field_names_it(tmp_path):
    ckpt = C.ModelCheckpoint(str(tmp_path / "m-{val_auc:.3f}.json"))
    with pytest.raises(ValueError, match=r"Expected the fields of filepath.*val_auc"):
        FakeModel().fit(val(1.0), [ckpt])


def test_checkpoint_missing_monitor_warns_and_skips(tmp_path):
    ckpt = C.ModelCheckpoint(str(tmp_path / "m.json"), monitor="val_f1", save_best_only=True)
    with pytest.warns(UserWarning, match="val_f1"):
        FakeModel().fit(val(1.0, 0.5), [ckpt])
    assert os.listdir(tmp_path) == []


def test_checkpoint_verbose(tmp_path, capsys):
    ckpt = C.ModelCheckpoint(str(tmp_path / "m.json"), save_best_only=True, verbose=1)
    FakeModel().fit(val(1.0, 2.0), [ckpt])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from inf to 1, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 1" in out


# --------------------------------------------------------------------------- ReduceLROnPlateau

def test_reduce_lr_after_patience():
    cb = C.ReduceLROnPlateau(factor=0.5, patience=2)
    model = FakeModel(0.1).fit(val(1, 1, 1, 1, 1, 1, 1), [cb])
    # epoch 0 sets the best; epochs 1-2 without improvement -> reduce after epoch 2, again after 4, 6
    assert model.lr_seen == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert model.optimizer.learning_rate == 0.1 and model.optimizer.lr_multiplier == pytest.approx(0.125)


def test_reduce_lr_improvement_resets_the_count():
    cb = C.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0)
    model = FakeModel(0.1).fit(val(1.0, 1.0, 0.9, 0.95, 0.8, 0.85, 0.85, 0.85), [cb])
    assert model.lr_seen == pytest.approx([0.1] * 7 + [0.05])


def test_reduce_lr_min_delta_and_mode():
    cb = C.ReduceLROnPlateau(monitor="val_accuracy", factor=0.1, patience=1, min_delta=0.05)
    model = FakeModel(1.0).fit(val(0.5, 0.52, 0.6, 0.7, key="val_accuracy"), [cb])
    # 0.52 is not 0.05 better than 0.5 -> reduce after epoch 1; 0.6 and 0.7 are improvements
    assert model.lr_seen == pytest.approx([1.0, 1.0, 0.1, 0.1])


def test_reduce_lr_cooldown():
    cb = C.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1)
    model = FakeModel(0.1).fit(val(*[1.0] * 9), [cb])
    # reduce after epoch 2; epoch 3 is cooldown (not counted); epochs 4, 5 count -> reduce after 5
    assert model.lr_seen == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    cb = C.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    model = FakeModel(0.1).fit(val(*[1.0] * 8), [cb])
    # reduce after 1; cooldown 2, 3; count 4 -> reduce after 4; cooldown 5, 6; reduce after 7
    assert model.lr_seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])


def test_reduce_lr_honours_min_lr():
    cb = C.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005)
    model = FakeModel(0.1).fit(val(*[1.0] * 6), [cb])
    assert model.lr_seen == pytest.approx([0.1, 0.1, 0.01, 0.005, 0.005, 0.005])
    assert model.optimizer.current_learning_rate() == pytest.approx(0.005)


def test_reduce_lr_composes_with_a_schedule():
    schedule = sch.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)  # halves every epoch
    cb = C.ReduceLROnPlateau(factor=0.2, patience=1)
    model = FakeModel(schedule).fit(val(1.0, 1.0, 0.5), [cb], steps=3)
    opt = model.optimizer
    assert opt.learning_rate is schedule  # the schedule is kept, not overwritten
    assert opt.lr_multiplier == pytest.approx(0.2)
    # epochs start at iterations 0, 3, 6: schedule 0.1, 0.05, 0.025; scaled after epoch 1
    assert model.lr_seen == pytest.approx([0.1, 0.05, 0.025 * 0.2])
    assert opt.current_learning_rate() == pytest.approx(schedule(opt.iterations) * 0.2)


def test_reduce_lr_min_lr_with_a_schedule():
    schedule = sch.StepDecay(1.0, step_size=100, gamma=0.5)
    cb = C.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.3)
    model = FakeModel(schedule).fit(val(1.0, 1.0, 1.0), [cb])
    assert model.lr_seen == pytest.approx([1.0, 1.0, 0.3])  # clipped at min_lr, not 0.1


def test_reduce_lr_verbose_and_state_reset(capsys):
    cb = C.ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)
    FakeModel(0.2).fit(val(1.0, 1.0), [cb])
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.1." in capsys.readouterr().out
    model = FakeModel(0.2).fit(val(5.0, 4.0), [cb])  # fresh best: 5.0 then 4.0 improve
    assert model.lr_seen == [0.2, 0.2] and cb.wait == 0


# --------------------------------------------------------------------------- CSVLogger

def _read_csv(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_header_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"val_loss": 0.9, "accuracy": 0.25}, {"val_loss": 0.7, "accuracy": 1 / 3},
            {"val_loss": 0.6, "accuracy": 0.5}]
    FakeModel().fit(logs, [C.CSVLogger(str(path))])
    rows = _read_csv(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "lr", "val_loss"]  # sorted keys, as Keras
    assert len(rows) == 4
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert float(rows[2][1]) == 1 / 3  # full precision round trip
    assert float(rows[3][4]) == 0.6


def test_csv_logger_separator_append_and_overwrite(tmp_path):
    path = tmp_path / "log.csv"
    FakeModel().fit(val(0.9, 0.8), [C.CSVLogger(path, separator=";")])
    FakeModel().fit(val(0.7), [C.CSVLogger(path, separator=";", append=True)])
    rows = _read_csv(path, ";")
    assert rows[0] == ["epoch", "loss", "lr", "val_loss"] and len(rows) == 4  # one header only
    assert [r[3] for r in rows[1:]] == ["0.9", "0.8", "0.7"]
    FakeModel().fit(val(0.5), [C.CSVLogger(path, separator=";")])
    assert len(_read_csv(path, ";")) == 2  # overwritten


def test_csv_logger_missing_key_is_na_and_file_is_closed(tmp_path):
    path = tmp_path / "log.csv"
    logger = C.CSVLogger(path)
    FakeModel().fit([{"val_loss": 0.9}, {}], [logger])
    rows = _read_csv(path)
    assert rows[2][rows[0].index("val_loss")] == "NA"
    assert logger._file is None


# --------------------------------------------------------------------------- TerminateOnNaN

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan(bad, capsys):
    cb = C.TerminateOnNaN()
    model = FakeModel().fit(val(1.0, 1.0, 1.0), [cb], steps=4,
                            batch_loss=lambda e, b: bad if (e, b) == (1, 2) else 0.5)
    assert model.stop_training and model.terminated_on_nan == (1, 2)
    assert model.epochs_run == 2 and model.batches_run[-1] == (1, 2)
    out = capsys.readouterr().out
    assert "Epoch 2/3" in out and "batch 3/4" in out and "invalid loss" in out


def test_terminate_on_nan_leaves_finite_training_alone(capsys):
    model = FakeModel().fit(val(1.0, 1.0), [C.TerminateOnNaN()], batch_loss=lambda e, b: 1e30)
    assert model.epochs_run == 2 and not model.stop_training
    assert not hasattr(model, "terminated_on_nan") and capsys.readouterr().out == ""


# --------------------------------------------------------------------------- LearningRateScheduler

def test_lr_scheduler_sets_the_rate_each_epoch():
    cb = C.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.5)
    model = FakeModel(0.1)
    model.optimizer.lr_multiplier = 0.3  # e.g. left by ReduceLROnPlateau: reset to 1.0
    model.fit(val(1, 1, 1, 1), [cb])
    assert model.lr_seen == pytest.approx([0.03, 0.015, 0.0075, 0.00375])
    assert model.optimizer.lr_multiplier == 1.0 and type(model.optimizer.learning_rate) is float


def test_lr_scheduler_one_argument_and_schedule_objects(capsys):
    model = FakeModel(sch.CosineDecay(1.0, 10))
    model.fit(val(1, 1, 1), [C.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1), verbose=1)])
    assert model.lr_seen == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out
    model = FakeModel(0.5).fit(val(1, 1, 1), [C.LearningRateScheduler(sch.StepDecay(0.2, 2, 0.5))])
    assert model.lr_seen == pytest.approx([0.2, 0.2, 0.1])  # a schedule of the epoch


def test_lr_scheduler_takes_its_callable_as_fn_too():
    model = FakeModel(0.5).fit(val(1, 1), [C.LearningRateScheduler(fn=lambda epoch: 0.1 * (epoch + 1))])
    assert model.lr_seen == pytest.approx([0.1, 0.2])
    with pytest.raises(TypeError, match="exactly one of schedule or fn"):
        C.LearningRateScheduler()
    with pytest.raises(TypeError, match="exactly one of schedule or fn"):
        C.LearningRateScheduler(lambda e: 0.1, fn=lambda e: 0.2)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.1", None])
def test_lr_scheduler_rejects_bad_rates(bad):
    cb = C.LearningRateScheduler(lambda epoch, lr: bad)
    with pytest.raises(ValueError, match="Expected the schedule to return a finite float >= 0"):
        FakeModel().fit(val(1), [cb])


# --------------------------------------------------------------------------- progress output

class FakeTTY(io.StringIO):
    def isatty(self):
        return True


LOGS3 = [{"accuracy": 0.5, "val_loss": 0.9, "val_accuracy": 0.4},
         {"accuracy": 0.6, "val_loss": 0.8, "val_accuracy": 0.5},
         {"accuracy": 0.7, "val_loss": 0.00012, "val_accuracy": 0.6}]


def test_progbar_verbose_0_prints_nothing(capsys):
    FakeModel().fit(LOGS3, [C.ProgbarLogger()], verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("verbose", [1, 2])
def test_progbar_one_line_per_epoch_without_a_terminal(verbose, capsys):
    # capsys is not a TTY: verbose=1 falls back to one line per epoch, as verbose=2
    FakeModel().fit(LOGS3, [C.ProgbarLogger()], verbose=verbose, steps=5)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3 and "\r" not in out
    for e, line in enumerate(lines):
        assert line.startswith(f"Epoch {e + 1}/3 - 5/5 - ")
        assert "loss: 1.0000" in line and f"val_accuracy: {LOGS3[e]['val_accuracy']:.4f}" in line
        assert "batch_loss" not in line and "size" not in line and "lr:" not in line
    assert "val_loss: 1.2000e-04" in lines[2]  # small values in e-notation


def test_progbar_bar_on_a_terminal():
    out = FakeTTY()
    FakeModel().fit(LOGS3[:2], [C.ProgbarLogger(stream=out, interval=0.0)], verbose=1, steps=4)
    text = out.getvalue()
    epochs = text.split("Epoch ")[1:]
    assert len(epochs) == 2 and epochs[0].startswith("1/2\n") and epochs[1].startswith("2/2\n")
    first = epochs[0]
    frames = first.split("\r")[1:]
    assert len(frames) == 5  # one per batch (interval 0) and the final line
    assert frames[0].startswith("1/4 [=======>") and "ETA" in frames[0] and "loss: 1.0000" in frames[0]
    assert "accuracy: 0.5000" in frames[0] and "val_loss" not in frames[0]
    assert frames[-1].startswith("4/4 [" + "=" * 30 + "]") and frames[-1].endswith("\n")
    assert "val_loss: 0.9000" in frames[-1] and "ETA" not in frames[-1]
    assert text.count("\n") == 4  # "Epoch i/2" and the final bar, per epoch


def test_progbar_redraws_are_rate_limited():
    out = FakeTTY()
    FakeModel().fit(LOGS3[:1], [C.ProgbarLogger(stream=out, interval=3600.0)], verbose=1, steps=50)
    frames = out.getvalue().split("\r")[1:]
    # the first batch, the last batch (always drawn) and the epoch's final line
    assert len(frames) == 3 and frames[0].startswith(" 1/50") and frames[1].startswith("50/50")


def test_progbar_explicit_verbose_overrides_params(capsys):
    FakeModel().fit(LOGS3[:2], [C.ProgbarLogger(verbose=2)], verbose=0)
    assert len(capsys.readouterr().out.splitlines()) == 2


# --------------------------------------------------------------------------- oracles over random runs

LOSSES = st.lists(st.sampled_from([1.0, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5]), min_size=1, max_size=25)


def keras_early_stopping(values, patience, min_delta):
    """Keras 3's EarlyStopping.on_epoch_end loop (mode min, no baseline): (stopped, best epoch)."""
    best, best_epoch, wait = math.inf, None, 0
    for epoch, current in enumerate(values):
        wait += 1
        if current - (-min_delta) < best:  # np.less(current - min_delta, best), min_delta negated
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= patience and epoch > 0:
            return epoch, best_epoch
    return 0, best_epoch


@given(values=LOSSES, patience=st.integers(0, 4), min_delta=st.sampled_from([0.0, 0.05, 0.15]))
def test_early_stopping_matches_keras_and_always_restores_the_best(values, patience, min_delta):
    stop = C.EarlyStopping(patience=patience, min_delta=min_delta, restore_best_weights=True)
    model = FakeModel().fit(val(*values), [stop])
    stopped, best_epoch = keras_early_stopping(values, patience, min_delta)
    assert stop.stopped_epoch == stopped
    assert model.epochs_run == (stopped + 1 if stopped else len(values))
    assert stop.best_epoch == best_epoch
    assert model.weight_value() == best_epoch  # restored, whether it stopped or not


@settings(max_examples=30, deadline=None)
@given(values=LOSSES, patience=st.integers(1, 4), cooldown=st.integers(0, 3),
       factor=st.sampled_from([0.1, 0.5]), min_lr=st.sampled_from([0.0, 0.004]),
       min_delta=st.sampled_from([0.0, 0.03, 0.12]))
def test_reduce_lr_matches_torch(values, patience, cooldown, factor, min_lr, min_delta):
    torch = torch_or_skip()
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    # torch reduces after more than `patience` bad epochs, we after `patience` (as Keras);
    # torch also skips reductions smaller than its eps (1e-8), which Keras and we do not
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=factor, patience=patience - 1, threshold=min_delta,
        threshold_mode="abs", cooldown=cooldown, min_lr=min_lr, eps=0.0)
    torch_lrs = []
    for v in values:
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step(v)
    cb = C.ReduceLROnPlateau(factor=factor, patience=patience, cooldown=cooldown, min_lr=min_lr,
                             min_delta=min_delta)
    model = FakeModel(0.1).fit(val(*values), [cb])
    np.testing.assert_allclose(model.lr_seen, torch_lrs, rtol=1e-12)


def test_flags_accept_numpy_bools_and_verbose_accepts_bools():
    stop = C.EarlyStopping(restore_best_weights=np.bool_(True), verbose=True)
    assert stop.restore_best_weights is True and stop.verbose == 1
    assert C.ModelCheckpoint("m.npz", save_best_only=np.True_).save_best_only is True
    with pytest.raises(ValueError, match="Expected verbose >= 0, received: verbose=-1"):
        C.ReduceLROnPlateau(verbose=-1)
