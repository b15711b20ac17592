"""TerminateOnNaN: stop training as soon as a batch loss is nan or infinite."""

import math

from nnfast.callbacks.base import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is not finite.

    At batch end it reads ``logs["batch_loss"]`` (``logs["loss"]`` when absent); on nan or
    inf it sets ``model.stop_training = True``, records ``model.terminated_on_nan =
    (epoch, batch)`` (indices from 0, as the hooks receive them) and prints a message naming
    the epoch and batch (counted from 1, as the progress bar shows them).

    Examples
    --------
    >>> import types
    >>> import nnfast as nf
    >>> cb = nf.callbacks.TerminateOnNaN()
    >>> model = types.SimpleNamespace(stop_training=False)
    >>> cb.set_model(model); cb.set_params({"epochs": 5, "steps": 10})
    >>> cb.on_epoch_begin(2); cb.on_train_batch_end(6, {"batch_loss": float("nan")})
    Epoch 3/5, batch 7/10: invalid loss (nan), terminating training
    >>> model.stop_training, model.terminated_on_nan
    (True, (2, 6))
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("batch_loss", logs.get("loss"))
        if loss is None:
            return
        loss = float(loss)
        if math.isfinite(loss):
            return
        self.model.stop_training = True
        self.model.terminated_on_nan = (self._epoch, batch)
        epochs, steps = self.params.get("epochs", "?"), self.params.get("steps", "?")
        print(f"Epoch {self._epoch + 1}/{epochs}, batch {batch + 1}/{steps}: invalid loss "
              f"({loss}), terminating training")
