"""History: the per-epoch logs of one training run, as returned by ``fit``."""

import math
import numbers

from nnfast.callbacks.base import Callback

__all__ = ["History"]


class History(Callback):
    """Records every epoch's logs.

    Attributes
    ----------
    history : dict of str to list
        ``"loss"``, ``"val_loss"``, each metric and its ``"val_"`` twin, ``"lr"``: one value per
        epoch. A key missing in some epoch gets ``nan`` there, so all lists stay aligned with
        :attr:`epoch`.
    epoch : list of int
        The epoch indices recorded (from 0).
    model : object
        The model that was trained.

    Examples
    --------
    >>> h = History()
    >>> h.on_train_begin()
    >>> h.on_epoch_end(0, {"loss": 0.9, "lr": 0.01}); h.on_epoch_end(1, {"loss": 0.5, "lr": 0.01})
    >>> h.history["loss"], h.epoch
    ([0.9, 0.5], [0, 1])
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        n = len(self.epoch)
        for key, value in logs.items():
            # (float first: the numbers.Real check is an ABC lookup, ~1 us a key an epoch)
            if type(value) is not float and isinstance(value, numbers.Real) and not isinstance(
                    value, bool):
                value = float(value)
            self.history.setdefault(key, [math.nan] * (n - 1)).append(value)
        for values in self.history.values():
            if len(values) < n:
                values.append(math.nan)

    def plot(self, path=None, keys=None):
        """Plot each quantity (with its ``val_`` twin) against the epoch; needs matplotlib.

        Parameters
        ----------
        path : str or path-like, optional
            Where to save the figure (format from the extension). Defaults to None (not saved).
        keys : list of str, optional
            Quantities to plot (without ``val_``). Defaults to every recorded one.

        Returns
        -------
        matplotlib.figure.Figure
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # optional dependency
            raise ImportError("History.plot needs matplotlib (pip install matplotlib)") from exc
        if keys is None:
            keys = [k for k in self.history if not k.startswith("val_")]
            keys += [k[4:] for k in self.history if k.startswith("val_") and k[4:] not in self.history]
        if not keys:
            raise ValueError("Expected a History with recorded epochs, received: an empty history")
        x = [e + 1 for e in self.epoch]
        fig = Figure(figsize=(6.0, 2.4 * len(keys)), layout="constrained")
        axes = fig.subplots(len(keys), 1, sharex=True, squeeze=False)[:, 0]
        for ax, key in zip(axes, keys):
            for name in (key, "val_" + key):
                if name in self.history:
                    ax.plot(x, self.history[name], marker=".", label=name)
            ax.set_ylabel(key)
            ax.legend(loc="best")
        axes[-1].set_xlabel("epoch")
        if path is not None:
            fig.savefig(path)
        return fig
