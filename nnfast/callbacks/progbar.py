"""ProgbarLogger: the progress display of ``fit`` (``verbose=1`` bar, ``verbose=2`` lines).

``verbose=1`` on a terminal: ``Epoch 3/20``, then a bar rewritten in place with ``\\r`` (at
most once per ``interval`` seconds) showing steps done/total, elapsed seconds, an estimate of
the time left and the running loss and metrics; the epoch's final line adds the validation
metrics. When the output is not a terminal (a log file, a notebook capture) and with
``verbose=2``: one line per epoch, ``Epoch 3/20 - 50/50 - 1.2s - loss: ... - val_loss: ...``.
``verbose=0`` prints nothing.
"""

import math
import numbers
import sys
import time

from nnfast.callbacks._checks import integer, real
from nnfast.callbacks.base import Callback

__all__ = ["ProgbarLogger"]

# Keys of the logs that are not shown.
_HIDDEN = frozenset({"batch_loss", "size", "batch", "lr", "learning_rate"})


def _fmt(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and v != 0.0 and abs(v) < 1e-3:
            return f"{v:.4e}"
        return f"{v:.4f}"
    return str(value)


def _fmt_seconds(s):
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


class ProgbarLogger(Callback):
    """Prints training progress.

    Parameters
    ----------
    verbose : {0, 1, 2}, optional
        Defaults to None: ``params["verbose"]`` (1 when absent).
    stream : file-like, optional
        Where to write. Defaults to None: ``sys.stdout`` at the time of writing.
    interval : float, optional
        Minimum seconds between two redraws of the bar. Defaults to 0.1.
    width : int, optional
        Characters of the bar. Defaults to 30.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = ProgbarLogger(verbose=2, stream=out)
    >>> p.set_params({"epochs": 2, "steps": 5})
    >>> p.on_epoch_begin(0); p.on_train_batch_end(4, {"loss": 0.5}); p.on_epoch_end(0, {"loss": 0.5})
    >>> out.getvalue().startswith("Epoch 1/2 - 5/5 - ")
    True
    """

    # Redrawing once per chunk of batches is all a progress bar needs (see callbacks.base).
    batch_hooks_in_chunks = True

    def __init__(self, verbose=None, stream=None, interval=0.1, width=30):
        super().__init__()
        if verbose is not None and (isinstance(verbose, bool) or verbose not in (0, 1, 2)):
            raise ValueError(f"Expected verbose in (0, 1, 2), received: verbose={verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self.interval = real(interval, "interval", low=0.0)
        self.width = integer(width, "width", low=1)
        self._live = False
        self._line_len = 0

    # ---- helpers

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _verbosity(self):
        if self.verbose is not None:
            return self.verbose
        return self.params.get("verbose", 1)

    def _write(self, text):
        out = self._out()
        out.write(text)
        out.flush()

    def _is_tty(self):
        try:
            return bool(self._out().isatty())
        except (AttributeError, ValueError):
            return False

    def _values(self, logs):
        return " - ".join(f"{k}: {_fmt(v)}" for k, v in (logs or {}).items() if k not in _HIDDEN)

    def _counter(self, done):
        steps = self.params.get("steps")
        if steps is None:
            return f"{done}/?"
        return f"{done:>{len(str(steps))}}/{steps}"

    def _bar(self, done):
        steps = self.params.get("steps")
        if not steps:
            return ""
        filled = min(self.width, self.width * done // steps)
        head = ">" if filled < self.width and done > 0 else ""
        return " [" + ("=" * filled + head).ljust(self.width, ".")[: self.width] + "]"

    def _draw(self, text, end=""):
        pad = " " * max(0, self._line_len - len(text))
        self._write("\r" + text + pad + end)
        self._line_len = 0 if end else len(text)

    # ---- hooks

    def on_train_begin(self, logs=None):
        self._line_len = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._done = 0
        self._t0 = time.perf_counter()
        self._last_draw = -math.inf
        self._line_len = 0
        v = self._verbosity()
        self._live = v == 1 and self._is_tty()
        if self._live:
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._done = batch + 1
        if not self._live:
            return
        now = time.perf_counter()
        steps = self.params.get("steps")
        if now - self._last_draw < self.interval and self._done != steps:
            return
        self._last_draw = now
        elapsed = now - self._t0
        text = f"{self._counter(self._done)}{self._bar(self._done)} - {_fmt_seconds(elapsed)}"
        if steps and self._done < steps:
            text += f" - ETA {_fmt_seconds(elapsed / self._done * (steps - self._done))}"
        values = self._values(logs)
        self._draw(text + (" - " + values if values else ""))

    def on_epoch_end(self, epoch, logs=None):
        v = self._verbosity()
        if v == 0:
            return
        done = self._done or self.params.get("steps") or 0
        elapsed = time.perf_counter() - getattr(self, "_t0", time.perf_counter())
        values = self._values(logs)
        tail = f" - {_fmt_seconds(elapsed)}" + (" - " + values if values else "")
        if self._live:
            self._draw(f"{self._counter(done)}{self._bar(done)}{tail}", end="\n")
        else:
            self._write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')} - {self._counter(done)}{tail}\n")
