"""EarlyStopping: stop when the monitored quantity stops improving, optionally restoring the
best weights (also when training ran to its last epoch)."""

from nnfast.callbacks._checks import boolean, integer, real, verbosity
from nnfast.callbacks.monitor import MonitorCallback

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Stop training after ``patience`` epochs without improvement.

    Every epoch without improvement over the best value (by more than ``min_delta``) adds one
    to a counter, reset by an improvement; training stops at the end of the epoch where the
    counter reaches ``patience`` (never at the first observed epoch). With a ``baseline``, an
    epoch only resets the counter if it also beats the baseline. With
    ``restore_best_weights``, the weights of the best epoch are put back in ``on_train_end``
    whenever a best was recorded — whether this callback stopped training or not (Keras
    restores only when it stopped training itself).

    Parameters
    ----------
    monitor : str, optional
        Defaults to ``"val_loss"``.
    patience : int, optional
        Non-negative number of epochs without improvement tolerated. Defaults to 0.
    min_delta : float, optional
        Non-negative smallest change that counts as an improvement. Defaults to 0.0.
    mode : {"auto", "min", "max"}, optional
        Defaults to ``"auto"`` (see :class:`MonitorCallback`).
    restore_best_weights : bool, optional
        Defaults to False.
    baseline : float, optional
        Value the monitored quantity must beat. Defaults to None.
    start_from_epoch : int, optional
        Epochs to wait before watching (warm-up). Defaults to 0.
    verbose : int, optional
        1 prints when it stops and restores. Defaults to 0.

    Attributes
    ----------
    stopped_epoch : int
        Epoch index (from 0) at which training was stopped; 0 when it was not.
    best_epoch : int or None
        Epoch index of the best value.
    wait : int
        Epochs since the last improvement.

    Examples
    --------
    >>> import nnfast as nf
    >>> stop = nf.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    >>> stop.maximize
    False
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False, baseline=None, start_from_epoch=0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = integer(patience, "patience", low=0)
        self.restore_best_weights = boolean(restore_best_weights, "restore_best_weights")
        self.baseline = None if baseline is None else real(baseline, "baseline")
        self.start_from_epoch = integer(start_from_epoch, "start_from_epoch", low=0)
        self.verbose = verbosity(verbose)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = None
        self.best_weights = None
        self._reset_best()

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = self.get_monitor_value(logs)
        if current is None:
            return
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
        if self.wait > 0 and self.wait >= self.patience and epoch > self.start_from_epoch:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
