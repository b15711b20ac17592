"""LearningRateScheduler: set the learning rate at the start of each epoch from a function."""

import inspect
import math
import numbers

from nnfast.callbacks._checks import verbosity
from nnfast.callbacks.base import Callback

__all__ = ["LearningRateScheduler"]


def _takes_two(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume (epoch, lr)
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """At each epoch begin: ``optimizer.learning_rate = schedule(epoch, lr)``.

    ``epoch`` counts from 0 and ``lr`` is the current learning rate
    (``optimizer.current_learning_rate()``); a one-argument ``schedule(epoch)`` works too. The
    returned float replaces ``learning_rate`` (a schedule object there is replaced) and
    ``lr_multiplier`` is reset to 1.0.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> float`` (non-negative, finite). ``fn=`` is the same argument
        under the contract's name.
    verbose : int, optional
        1 prints each new rate. Defaults to 0.

    Examples
    --------
    >>> import nnfast as nf
    >>> cb = nf.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9 if epoch >= 10 else lr)
    """

    def __init__(self, schedule=None, verbose=0, *, fn=None):
        super().__init__()
        if (schedule is None) == (fn is None):
            raise TypeError("Expected exactly one of schedule or fn (the callable), "
                            f"received: schedule={schedule!r}, fn={fn!r}")
        schedule = fn if schedule is None else schedule
        if not callable(schedule):
            raise TypeError(f"Expected schedule to be callable, received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbosity(verbose)
        self._two_args = _takes_two(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        if self._two_args:
            lr = float(opt.current_learning_rate())
            new = self.schedule(epoch, lr)
        else:
            new = self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, numbers.Real) or not math.isfinite(new) or new < 0:
            raise ValueError(
                "Expected the schedule to return a finite float >= 0, "
                f"received: {new!r} at epoch {epoch}"
            )
        opt.learning_rate = float(new)
        opt.lr_multiplier = 1.0
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new):.6g}.")
