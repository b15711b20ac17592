"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; fastai's ``lr_find``).

One optimizer step per learning rate on successive mini-batches, the rate growing
exponentially from ``start`` to ``end`` over ``num`` steps: ``lr_i = start·(end/start)^(i/(num−1))``.
The recorded loss of step ``i`` is the batch loss before its update (as ``train_on_batch``
returns it), smoothed as fastai does: ``avg = beta·avg + (1 − beta)·loss``, debiased by
``1 − beta^(i+1)``. The first tenth of the steps only warms this average up (the debiased mean
of a few batch losses is noisy: on a trained model one bad batch would pass for a blow-up).
From then on the run stops once the smoothed loss exceeds ``diverge`` times the best one since
the warm-up, and at once if the loss is not finite.

``suggestion`` is the learning rate of the smallest smoothed loss (after the warm-up) divided
by 10 (fastai's ``lr_min``): at the minimum the loss is about to blow up, one order of
magnitude lower still trains fast and stably. ``steepest`` (the rate where the smoothed loss
falls fastest against ``log lr``, between the warm-up and the minimum) is given as a second
opinion.

The test runs on a twin of the model with a copy of its optimizer (same hyperparameters and
state) and of its random generator, so the model is left exactly as it was: weights, optimizer
state, iteration count, learning rate and generator.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from nnfast.diagnostics._common import check_model, integer, real, twin
from nnfast.diagnostics._plot import figure, finish

__all__ = ["lr_finder", "LRFinderResult"]


@dataclass
class LRFinderResult:
    """The learning rates tried, their smoothed (``losses``) and raw losses, and the suggestions.

    ``diverged_lr`` is the rate at which the run stopped because the loss blew up (None when it
    ran all ``num`` steps).

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> X = np.random.default_rng(0).normal(size=(256, 4)); y = (X[:, 0] > 0).astype(int)
    >>> model = nf.Sequential([nf.layers.Dense(8, activation="relu"),
    ...                        nf.layers.Dense(1, activation="sigmoid")], input_dim=4, seed=0)
    >>> model.compile("sgd", "binary_crossentropy")
    >>> result = nf.diagnostics.lr_finder(model, X, y, num=50)
    >>> result.suggestion < result.lrs[int(np.argmin(result.losses))]
    True
    """

    lrs: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    raw_losses: list = field(default_factory=list)
    suggestion: float = None
    steepest: float = None
    min_loss_lr: float = None
    diverged_lr: float = None

    def __str__(self):
        stop = (f"diverged at lr={self.diverged_lr:.3g}" if self.diverged_lr is not None
                else "did not diverge")
        steep = "-" if self.steepest is None else f"{self.steepest:.3g}"
        return (f"LR range test: {len(self.lrs)} steps from {self.lrs[0]:.3g} to "
                f"{self.lrs[-1]:.3g}, {stop}; min smoothed loss at lr={self.min_loss_lr:.3g}; "
                f"suggestion (min / 10) {self.suggestion:.3g}, steepest descent {steep}")

    def plot(self, path=None):
        """The smoothed loss against the learning rate (log axis), suggestion marked.

        Parameters
        ----------
        path : str or path-like, optional
            Where to save the figure (format from the extension). Defaults to None (not saved).

        Returns
        -------
        matplotlib.figure.Figure
        """
        fig = figure("LRFinderResult.plot", figsize=(6.0, 3.6))
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses, label="smoothed loss")
        ax.axvline(self.suggestion, color="tab:red", linestyle="--",
                   label=f"suggestion {self.suggestion:.2g}")
        if self.steepest is not None:
            ax.axvline(self.steepest, color="tab:green", linestyle=":",
                       label=f"steepest {self.steepest:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend(loc="best")
        return finish(fig, path)


def _steepest(lrs, losses, best, warmup):
    """The rate of the most negative slope d(loss)/d(log lr) from the warm-up to the minimum."""
    if best - warmup < 2:
        return None
    slope = np.gradient(np.asarray(losses[warmup:best + 1]), np.log(lrs[warmup:best + 1]))
    return float(lrs[warmup + int(np.argmin(slope))])


def _copy_optimizer(opt):
    """A new optimizer with ``opt``'s hyperparameters (its state is copied after compile)."""
    try:
        return type(opt).from_config(opt.get_config())
    except Exception as exc:
        raise TypeError(f"Expected an optimizer that from_config(get_config()) rebuilds, "
                        f"received: {type(opt).__name__} ({exc})") from exc


def lr_finder(model, X, y, start=1e-7, end=10.0, *, num=100, batch_size=32, beta=0.98,
              diverge=4.0, sample_weight=None):
    """Run the learning-rate range test on a copy of ``model``; the model is left as it was.

    Parameters
    ----------
    model : Sequential
        Built (or with ``input_dim``) and compiled: its optimizer is the one tested.
    X : array-like of shape (n, d)
    y : array-like
        Targets, as for ``fit``.
    start, end : float
        The first and last learning rates, ``0 < start < end``. Defaults to 1e-7 and 10.
    num : int
        Number of steps (one learning rate each), at least 2. Defaults to 100.
    batch_size : int
        Rows per step; the data is reshuffled (with the model's generator state) whenever a
        pass over it ends. Defaults to 32.
    beta : float
        Smoothing of the loss, in [0, 1). Defaults to 0.98.
    diverge : float
        Stop once the smoothed loss exceeds ``diverge`` × the best one, > 1. Defaults to 4.0.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    LRFinderResult
    """
    check_model(model, "lr_finder")
    start = real(start, "start", low=0.0, low_open=True)
    end = real(end, "end", low=0.0, low_open=True)
    if not start < end:
        raise ValueError(f"Expected start < end, received: start={start!r}, end={end!r}")
    num = integer(num, "num", low=2)
    batch_size = integer(batch_size, "batch_size", low=1)
    beta = real(beta, "beta", low=0.0, high=1.0, high_open=True)
    diverge = real(diverge, "diverge", low=1.0, low_open=True)

    source = model.optimizer
    opt = _copy_optimizer(source)
    run = twin(model, optimizer=opt)
    for name, buf in opt.slots.items():
        np.copyto(buf, source.slots[name])
    opt.iterations = source.iterations
    run._rng.bit_generator.state = model._rng.bit_generator.state
    X, T, _, W = run._data(X, y, sample_weight)
    n = X.shape[0]
    bs = min(batch_size, n)

    lrs = start * (end / start) ** (np.arange(num) / (num - 1))
    result = LRFinderResult()
    warmup = num // 10  # steps that only warm the average up (see the module docstring)
    order, pos, avg, best_loss, best = run._rng.permutation(n), 0, 0.0, math.inf, 0
    for i, lr in enumerate(lrs):
        if pos + bs > n:
            order, pos = run._rng.permutation(n), 0
        rows = order[pos:pos + bs]
        pos += bs
        opt.learning_rate = float(lr)
        loss = run.train_on_batch(X[rows], T[rows], None if W is None else W[rows])
        avg = beta * avg + (1.0 - beta) * loss
        smooth = avg / (1.0 - beta ** (i + 1))
        result.lrs.append(float(lr))
        result.raw_losses.append(float(loss))
        result.losses.append(float(smooth))
        if not math.isfinite(smooth) or (i > warmup and smooth > diverge * best_loss):
            result.diverged_lr = float(lr)
            break
        if i >= warmup and smooth < best_loss:
            best_loss, best = smooth, i
    if best_loss == math.inf:  # stopped (non-finite loss) before the warm-up ended
        finite = [i for i, v in enumerate(result.losses) if math.isfinite(v)]
        if not finite:
            raise ValueError(f"Expected a finite loss at the first learning rate, received: "
                             f"loss={result.raw_losses[0]!r} at lr={start!r} (check the data "
                             "and the weights)")
        best = min(finite, key=result.losses.__getitem__)
    result.min_loss_lr = result.lrs[best]
    result.suggestion = result.min_loss_lr / 10.0
    result.steepest = _steepest(result.lrs, result.losses, best, warmup)
    return result
