"""ReduceLROnPlateau: lower the learning rate when the monitored value stops improving.

It multiplies the optimizer's ``lr_multiplier`` instead of overwriting ``learning_rate``, so
it composes with a schedule: the schedule keeps running, scaled down.
"""

import math

from nnfast.callbacks._checks import integer, real, verbosity
from nnfast.callbacks.monitor import MonitorCallback

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    At a reduction, with ``lr = optimizer.current_learning_rate()`` and ``lr > min_lr``:
    ``new = max(lr · factor, min_lr)`` and ``optimizer.lr_multiplier *= new / lr``. The
    ``cooldown`` epochs that follow a reduction are not counted (as torch's
    ``ReduceLROnPlateau``; Keras counts the last of them), though they may set a new best. A
    reduction happens when ``patience`` counted epochs in a row brought no improvement (as
    Keras; torch waits for ``patience + 1``).

    Parameters
    ----------
    monitor : str, optional
        Defaults to ``"val_loss"``.
    factor : float, optional
        In (0, 1). Defaults to 0.1.
    patience : int, optional
        Non-negative number of epochs without improvement before a reduction. Defaults to 10.
    min_delta : float, optional
        Non-negative smallest change that counts as an improvement. Defaults to 1e-4.
    cooldown : int, optional
        Non-negative number of epochs to wait after a reduction. Defaults to 0.
    min_lr : float, optional
        Non-negative floor of the learning rate. Defaults to 0.0.
    mode : {"auto", "min", "max"}, optional
        Defaults to ``"auto"`` (see :class:`MonitorCallback`).
    verbose : int, optional
        1 prints each reduction. Defaults to 0.

    Examples
    --------
    >>> import nnfast as nf
    >>> cb = nf.callbacks.ReduceLROnPlateau(factor=0.5, patience=3, min_lr=1e-5)
    >>> cb.factor, cb.patience
    (0.5, 3)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4, cooldown=0,
                 min_lr=0.0, mode="auto", verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.factor = real(factor, "factor", low=0.0, low_open=True, high=1.0, high_open=True)
        self.patience = integer(patience, "patience", low=0)
        self.cooldown = integer(cooldown, "cooldown", low=0)
        self.min_lr = real(min_lr, "min_lr", low=0.0)
        self.verbose = verbosity(verbose)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self._reset_best()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None:
            return
        improved = self._is_improvement(current, self.best)
        if improved:
            self.best = current
        if self.in_cooldown():  # the epochs of the cooldown are not counted (as torch)
            self.cooldown_counter -= 1
            self.wait = 0
            return
        if improved:
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self._reduce(epoch)
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def _reduce(self, epoch):
        opt = self.model.optimizer
        old = float(opt.current_learning_rate())
        if not old > self.min_lr or math.isclose(old, self.min_lr, rel_tol=1e-9):
            return
        new = max(old * self.factor, self.min_lr)
        opt.lr_multiplier = opt.lr_multiplier * (new / old)
        if self.verbose:
            print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:.6g}.")
