"""CSVLogger: one CSV row per epoch with every logged quantity."""

import csv
import numbers
import os

from nnfast.callbacks._checks import boolean
from nnfast.callbacks.base import Callback

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write the epoch logs to a CSV file: a header ``epoch,<keys sorted>``, then one row per epoch.

    The keys are fixed at the first epoch (sorted, as Keras); a key missing later is written
    ``NA``. Epochs are counted from 0 (as Keras). Each row is flushed as it is written.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    separator : str, optional
        One-character field separator. Defaults to ``","``.
    append : bool, optional
        Append to an existing file (no second header when it is not empty). Defaults to False
        (overwrite).

    Examples
    --------
    >>> import nnfast as nf
    >>> logger = nf.callbacks.CSVLogger("training.csv", separator=";")
    >>> logger.separator
    ';'
    """

    def __init__(self, path, separator=",", append=False):
        super().__init__()
        try:
            self.path = os.fspath(path)
        except TypeError:
            raise TypeError(f"Expected path to be a str or path-like, received: path={path!r}") from None
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"Expected separator to be a single character, received: separator={separator!r}")
        self.separator = separator
        self.append = boolean(append, "append")
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._close()
        has_rows = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._file = open(self.path, "a" if self.append else "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")
        self._header_written = has_rows
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:  # used without on_train_begin: open lazily
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        if not self._header_written:
            self._writer.writerow(["epoch", *self.keys])
            self._header_written = True
        self._writer.writerow([epoch, *(_cell(logs.get(k, "NA")) for k in self.keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None

    def __del__(self):
        try:
            self._close()
        except Exception:  # interpreter shutdown
            pass


def _cell(value):
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return repr(float(value))
    return value
