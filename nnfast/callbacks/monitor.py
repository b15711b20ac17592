"""MonitorCallback: the monitor / mode / min_delta logic shared by EarlyStopping,
ModelCheckpoint and ReduceLROnPlateau."""

import math
import numbers
import warnings

from nnfast.callbacks._checks import real
from nnfast.callbacks.base import Callback

__all__ = ["MonitorCallback"]

# Quantities that get better as they grow (mode="auto"); everything else is minimised.
MAXIMIZED = frozenset({"acc", "accuracy", "auc", "precision", "recall", "f1"})


def _maximized(monitor):
    """Whether ``mode="auto"`` maximises ``monitor`` (``val_`` prefix ignored)."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return name in MAXIMIZED or any(part in MAXIMIZED for part in name.split("_"))


class MonitorCallback(Callback):
    """A callback that watches one logged quantity.

    Parameters
    ----------
    monitor : str, optional
        Key of the epoch logs to watch. Defaults to ``"val_loss"``.
    mode : {"auto", "min", "max"}, optional
        Whether smaller or larger is better; ``"auto"`` maximises names made of
        ``acc``/``accuracy``/``auc``/``precision``/``recall``/``f1`` and minimises the rest.
        Defaults to ``"auto"``.
    min_delta : float, optional
        Non-negative smallest change that counts as an improvement. Defaults to 0.0.

    Attributes
    ----------
    maximize : bool
        The resolved direction.
    best : float
        The best value seen since training began (``inf`` or ``-inf`` before any).

    Examples
    --------
    >>> m = MonitorCallback("val_accuracy", min_delta=0.01)
    >>> m.maximize, m._is_improvement(0.905, 0.9), m._is_improvement(0.92, 0.9)
    (True, False, True)
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"Expected monitor to be a non-empty str, received: monitor={monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"Expected mode in ('auto', 'min', 'max'), received: mode={mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = real(min_delta, "min_delta", low=0.0)
        self.maximize = mode == "max" or (mode == "auto" and _maximized(monitor))
        self._reset_best()

    def _reset_best(self):
        self.best = -math.inf if self.maximize else math.inf

    def _is_improvement(self, current, reference):
        """Whether ``current`` beats ``reference`` by more than ``min_delta`` (nan never does)."""
        if reference is None:
            return True
        if self.maximize:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def get_monitor_value(self, logs):
        """The monitored value of ``logs`` as a float, or None (with a warning) when missing."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__}: the monitored quantity {self.monitor!r} is not in the "
                f"logs (available: {sorted(logs or {})}); this epoch is skipped",
                stacklevel=3,
            )
            return None
        if not isinstance(value, numbers.Real):
            value = float(value)
        return float(value)
