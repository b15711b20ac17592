"""ModelCheckpoint: save the model after every epoch, or only when the monitored value improves."""

import os
import string

from nnfast.callbacks._checks import boolean, verbosity
from nnfast.callbacks.monitor import MonitorCallback

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(MonitorCallback):
    """Save the model with ``model.save(path)`` (an atomic write) at the end of epochs.

    Parameters
    ----------
    filepath : str or path-like
        Where to save. May hold format fields: ``{epoch}`` (from 1, e.g. ``{epoch:02d}``) and
        any key of the epoch logs (``{val_loss:.4f}``). Missing folders are created.
    monitor : str, optional
        Defaults to ``"val_loss"``.
    save_best_only : bool, optional
        Save only when ``monitor`` improves on the best value so far. Defaults to False.
    mode : {"auto", "min", "max"}, optional
        Defaults to ``"auto"`` (see :class:`MonitorCallback`).
    verbose : int, optional
        1 prints a line per save decision. Defaults to 0.

    Attributes
    ----------
    best : float
        Best monitored value since training began (the state resets in ``on_train_begin``).
    saved : list of str
        Paths written during the current training run, in order.

    Examples
    --------
    >>> import nnfast as nf
    >>> ckpt = nf.callbacks.ModelCheckpoint("ckpt/model-{epoch:02d}.npz", save_best_only=True)
    >>> ckpt.format_path(2, {"val_loss": 0.5})
    'ckpt/model-03.npz'
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        super().__init__(monitor, mode, 0.0)
        try:
            path = os.fspath(filepath)
        except TypeError:
            raise TypeError(f"Expected filepath to be a str or path-like, received: filepath={filepath!r}") from None
        if not isinstance(path, str) or not path:
            raise ValueError(f"Expected filepath to be a non-empty path, received: filepath={filepath!r}")
        try:
            self._fields = {f for _, f, _, _ in string.Formatter().parse(path) if f is not None}
        except ValueError as exc:
            raise ValueError(f"Expected filepath to be a valid format string, received: filepath={path!r} ({exc})") from None
        self.filepath = path
        self.save_best_only = boolean(save_best_only, "save_best_only")
        self.verbose = verbosity(verbose)
        self.saved = []

    def format_path(self, epoch, logs=None):
        """The path for epoch index ``epoch`` (from 0; ``{epoch}`` shows it from 1)."""
        logs = dict(logs or {})
        try:
            return self.filepath.format(**{**logs, "epoch": epoch + 1})
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"Expected the fields of filepath to be 'epoch' or keys of the logs {sorted(logs)}, "
                f"received: filepath={self.filepath!r} (field {exc} missing)"
            ) from None

    def on_train_begin(self, logs=None):
        self._reset_best()
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        path = self.format_path(epoch, logs)
        if self.save_best_only:
            current = self.get_monitor_value(logs)
            if current is None:
                return
            if not self._is_improvement(current, self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5g}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5g} to "
                      f"{current:.5g}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.model.save(path)
        self.saved.append(path)
