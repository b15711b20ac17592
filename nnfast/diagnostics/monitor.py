"""GradientMonitor: per-layer gradient norms recorded at the end of every epoch.

``fit`` may run a whole epoch in one compiled call, so per-batch gradients are not exposed; the
monitor computes the gradients at each epoch end on a fixed sample instead, with
:meth:`Sequential.compute_gradients` on a twin of the model into which it copies the current
weights. The model's weights, optimizer state, buffers and random generator are left alone:
training with the monitor gives the same bits as training without it.
"""

import numpy as np

from nnfast.callbacks.base import Callback
from nnfast.diagnostics._common import format_table, optional_int, sync, twin
from nnfast.diagnostics._plot import figure, finish
from nnfast.diagnostics.grad_norms import norms_of

__all__ = ["GradientMonitor"]


class GradientMonitor(Callback):
    """Record every layer's gradient norm after each epoch, to spot vanishing/exploding gradients.

    Parameters
    ----------
    X : array-like of shape (n, d), optional
        Data to compute the gradients on. Defaults to None: a sample of the training data
        that ``fit`` received (after the validation split), drawn once per training run.
    y : array-like, optional
        Targets of ``X`` (required with ``X``).
    sample : int, optional
        At most this many rows of the data are used, drawn once (seeded by ``seed``); None
        uses all of them. Defaults to 512.
    sample_weight : array-like of shape (n,), optional
        Weights of ``X``'s rows (the training data's weights are used with ``X=None``).
    training : bool
        Gradients in training mode (Dropout active with masks from a fixed seed, the same at
        every epoch) or in inference mode. Defaults to True.
    seed : int
        Seeds the row sample and the Dropout masks. Defaults to 0.

    Attributes
    ----------
    history : dict of str to list of float
        Per layer name, the L2 norm of the layer's gradient at the end of each epoch.
    tensor_history : dict of str to list of float
        The same per weight tensor (``"dense/kernel"``).
    losses : list of float
        The loss on the monitor's sample at each epoch end.
    epochs : list of int
        The epochs recorded (from 0).

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = nf.Sequential([nf.layers.Dense(8, activation="tanh"),
    ...                        nf.layers.Dense(1, activation="sigmoid")], seed=0)
    >>> model.compile("adam", "binary_crossentropy")
    >>> monitor = nf.diagnostics.GradientMonitor()
    >>> _ = model.fit(X, y, epochs=3, verbose=0, callbacks=[monitor])
    >>> {name: len(norms) for name, norms in monitor.history.items()}
    {'dense': 3, 'dense_1': 3}
    """

    def __init__(self, X=None, y=None, *, sample=512, sample_weight=None, training=True, seed=0):
        super().__init__()
        if (X is None) != (y is None):
            raise ValueError("Expected X and y together (or neither, for the training data), "
                             f"received: X={'None' if X is None else 'an array'}, "
                             f"y={'None' if y is None else 'an array'}")
        if X is None and sample_weight is not None:
            raise ValueError("Expected sample_weight only with X, received: X=None")
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"Expected training to be a bool, received: training={training!r}")
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.sample = optional_int(sample, "sample")
        self.seed = optional_int(seed, "seed", low=0)
        self.training = bool(training)
        self.history, self.tensor_history, self.losses, self.epochs = {}, {}, [], []
        self._probe = self._arrays = None

    def on_train_begin(self, logs=None):
        self.history, self.tensor_history, self.losses, self.epochs = {}, {}, [], []
        model = self.model
        self._probe = probe = twin(model)
        if self.X is not None:
            X, T, _, W = probe._data(self.X, self.y, self.sample_weight)
        else:
            data = getattr(model, "_fit_data", None)
            if data is None:
                raise ValueError("Expected GradientMonitor(X, y) when the model does not expose "
                                 "its training data to callbacks, received: X=None")
            X, T, W = data
        rng = np.random.default_rng(self.seed)
        if self.sample is not None and X.shape[0] > self.sample:
            rows = np.sort(rng.choice(X.shape[0], size=self.sample, replace=False))
            X, T, W = X[rows], T[rows], None if W is None else W[rows]
        self._arrays = (X, T, W)
        self._state = rng.bit_generator.state

    def on_epoch_end(self, epoch, logs=None):
        sync(self.model, self._probe)
        norms = norms_of(self._probe, *self._arrays, self.training, self._state)
        n = len(self.epochs)
        for store, values in ((self.history, norms.layers), (self.tensor_history, norms.tensors)):
            for key, value in values.items():
                store.setdefault(key, [float("nan")] * n).append(value)
            for series in store.values():
                if len(series) <= n:
                    series.append(float("nan"))
        self.losses.append(norms.loss)
        self.epochs.append(epoch)

    def on_train_end(self, logs=None):
        self._probe = self._arrays = None  # the twin and the sample are not kept after fit

    def __str__(self):
        names = list(self.history)
        rows = [(e, *(self.history[k][i] for k in names)) for i, e in enumerate(self.epochs)]
        return format_table(["epoch", *names], rows, "Gradient norm per layer at each epoch end")

    def plot(self, path=None, log=True):
        """Each layer's gradient norm against the epoch (log scale by default); needs matplotlib.

        Parameters
        ----------
        path : str or path-like, optional
            Where to save the figure (format from the extension). Defaults to None (not saved).
        log : bool
            Logarithmic y axis. Defaults to True.

        Returns
        -------
        matplotlib.figure.Figure
        """
        if not self.epochs:
            raise ValueError("Expected a GradientMonitor with recorded epochs, received: none "
                             "(pass it to fit first)")
        fig = figure("GradientMonitor.plot", figsize=(6.0, 3.6))
        ax = fig.subplots()
        x = [e + 1 for e in self.epochs]
        for name, norms in self.history.items():
            ax.plot(x, norms, marker=".", label=name)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("gradient L2 norm")
        ax.legend(loc="best")
        return finish(fig, path)
