"""Tables of named columns read from CSV or NPZ files, for ``nnfast train`` and ``predict``.

Two file formats, told apart by content (an NPZ is a zip archive), not by suffix:

* **CSV**: UTF-8 text, a header row of column names, then one row per sample, fields separated
  by commas (double quotes allowed around a field). Feature columns must hold numbers; the
  target column may hold numbers or strings (class labels).
* **NPZ** (``numpy.savez``): every 1-D array is a column named by its key; a 2-D array ``A`` of
  shape ``(n, d)`` gives the columns ``A_0`` ... ``A_{d-1}``. So ``np.savez(f, X=X, y=y)`` is
  read with ``--target y`` and the features ``X_0``, ``X_1``, ... Arrays are read with
  ``allow_pickle=False``: numbers and strings, never Python objects.

Every problem with a file is a :class:`~nnfast.cli.UsageError` that names the file, the column
and, for a bad value, the value and its line (CSV) or row (NPZ).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
>>> with open(path, "w") as f:
...     _ = f.write("x,y,label\\n1,2,cat\\n3,4,dog\\n")
>>> table = read_table(path)
>>> table.names
['x', 'y', 'label']
>>> table.features(["x", "y"]).tolist()
[[1.0, 2.0], [3.0, 4.0]]
"""

import csv
import io
import os
import zipfile

import numpy as np

from nnfast.cli import UsageError
from nnfast.saving import ZIP_MAGICS

__all__ = ["Table", "read_table"]

# A last line no CSV field can hold (the text may not contain NUL): if it is not read as a row
# of its own, a quoted field ran to the end of the file (csv.reader does not say so).
_END = "\x00nnfast-end\x00"
_NPY_MAGIC = b"\x93NUMPY"


def _listing(names, limit=8):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


class Table:
    """Columns of equal length, by name, read from ``path``.

    Parameters
    ----------
    path : str
        Where the data came from (for error messages).
    columns : dict of str to ndarray of shape (n,)
        Numbers (any numeric dtype) or strings, in file order.
    lines : ndarray of shape (n,), optional
        The CSV line of each row (errors quote it); None for NPZ rows (numbered from 0).

    Examples
    --------
    >>> import numpy as np
    >>> t = Table("mem", {"a": np.array([1.0, 2.0]), "b": np.array(["x", "y"])})
    >>> len(t), t.names
    (2, ['a', 'b'])
    """

    def __init__(self, path, columns, lines=None):
        self.path, self.columns, self.lines = path, dict(columns), lines
        self.names = list(self.columns)

    def __len__(self):
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def where(self, i):
        """Where row ``i`` is in the file, in words."""
        return f"line {self.lines[i]}" if self.lines is not None else f"row {i}"

    def require(self, names, what="column"):
        """UsageError unless every name in ``names`` is a column."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise UsageError(f"{os.path.basename(self.path)} has no {what}{plural} "
                             f"{_listing(missing)}; its columns are {_listing(self.names)}")

    def raw(self, name):
        """The column as stored (numbers or strings)."""
        self.require([name])
        return self.columns[name]

    def numeric(self, name, role="feature"):
        """The column as float64, or UsageError naming the first value that is not a finite number."""
        col = self.raw(name)
        try:
            values = col.astype(np.float64)
        except ValueError:  # find the culprit (and accept what Python's float accepts)
            values = np.empty(len(col), np.float64)
            for i, v in enumerate(col):
                try:
                    values[i] = float(v)
                except ValueError:
                    raise UsageError(f"{role} column {name!r} of {os.path.basename(self.path)} must "
                                     f"hold numbers, received: {str(v)!r} at {self.where(i)}") from None
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise UsageError(f"{role} column {name!r} of {os.path.basename(self.path)} must hold "
                             f"finite numbers, received: {str(col[i])!r} at {self.where(i)}")
        return values

    def features(self, names):
        """The columns ``names`` side by side: a float64 array of shape ``(n, len(names))``."""
        self.require(names, "feature column")
        out = np.empty((len(self), len(names)), np.float64)
        for j, name in enumerate(names):
            out[:, j] = self.numeric(name)
        return out


def read_table(path):
    """Read a CSV or NPZ file into a :class:`Table` (see the module docstring for the formats)."""
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path!r}")
    if os.path.isdir(path):
        raise UsageError(f"expected a CSV or NPZ file, received: {path!r}, a directory")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if not head:
        raise UsageError(f"{name} is empty: expected a header row and data rows (CSV) or arrays (NPZ)")
    if head.startswith(_NPY_MAGIC):
        raise UsageError(f"{name} is a single .npy array: expected a CSV file or an .npz archive "
                         "of named columns (np.savez(path, X=X, y=y))")
    table = _read_npz(path) if head.startswith(ZIP_MAGICS) else _read_csv(path)
    if len(table) == 0:
        raise UsageError(f"{name} has no data rows, only column names {_listing(table.names)}")
    return table


def _read_npz(path):
    name = os.path.basename(path)
    columns = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                try:
                    arr = data[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc):
                        raise UsageError(f"array {key!r} in {name} holds Python objects (pickles "
                                         "are not loaded): expected numbers or strings") from None
                    raise
                if arr.dtype.kind not in "fiubUS":
                    raise UsageError(f"array {key!r} in {name} has dtype {arr.dtype}: expected "
                                     "numbers or strings")
                if arr.dtype.kind == "S":
                    arr = arr.astype(str)
                if arr.ndim == 1:
                    columns[key] = arr
                elif arr.ndim == 2:
                    for j in range(arr.shape[1]):
                        columns[f"{key}_{j}"] = arr[:, j]
                else:
                    raise UsageError(f"array {key!r} in {name} has shape {arr.shape}: expected "
                                     "1-D (one column) or 2-D (one column per index)")
    except UsageError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UsageError(f"cannot read {name} as an NPZ archive: {_one_line(exc)}") from None
    if not columns:
        raise UsageError(f"{name} is empty: the archive holds no arrays")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        first = next(iter(lengths))
        other = next(k for k, n in lengths.items() if n != lengths[first])
        raise UsageError(f"the arrays in {name} must have one length, received: {first!r} with "
                         f"{lengths[first]} rows and {other!r} with {lengths[other]}")
    return Table(path, columns)


def _read_csv(path):
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name} is not UTF-8 text (byte {exc.start}): expected a CSV file or "
                         "an NPZ archive") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UsageError(f"{name} holds a NUL character at line {line}: expected CSV text")
    reader = _Rows(name, csv.reader(io.StringIO(text + "\n" + _END + "\n"),
                                    skipinitialspace=True))
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise UsageError(f"{name} is empty: expected a header row of column names")
        header = [h.strip() for h in header]
        if any(not h for h in header):
            raise UsageError(f"{name}: expected a name for every column in the header row, "
                             f"received: column {header.index('') + 1} unnamed")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise UsageError(f"{name}: expected unique column names, received: {_listing(dupes)} twice")
        header_line = reader.line_num
        fast = _numeric_csv(text, header_line, len(header))
        if fast is not None:
            lines = np.arange(header_line + 1, header_line + 1 + fast.shape[0])
            return Table(path, {h: fast[:, j] for j, h in enumerate(header)}, lines)
        rows, lines = [], []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise UsageError(f"{name}: expected {len(header)} fields per row as in the header, "
                                 f"received: {len(row)} at line {reader.line_num}")
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise UsageError(f"{name} is not valid CSV at line {reader.line_num}: {exc}") from None
    cols = zip(*rows) if rows else [[] for _ in header]
    columns = {h: np.array([v.strip() for v in col], dtype=str) for h, col in zip(header, cols)}
    return Table(path, columns, np.array(lines, dtype=np.int64))


class _Rows:
    """``csv.reader`` rows up to the :data:`_END` line, with ``line_num``; a UsageError for a
    quoted field that is never closed (it would swallow the rest of the file)."""

    def __init__(self, name, reader):
        self.name, self.reader = name, reader

    @property
    def line_num(self):
        return self.reader.line_num

    def __iter__(self):
        return self

    def __next__(self):
        start = self.reader.line_num + 1
        row = next(self.reader)
        if row == [_END]:
            raise StopIteration
        if any(_END in field for field in row):
            raise UsageError(f"{self.name} is not valid CSV: the quoted field in the row of "
                             f"line {start} is never closed (a missing '\"')")
        return row


def _numeric_csv(text, header_line, width):
    """All-numeric rows through NumPy's C parser (fast for big files), or None to parse by hand."""
    parts = text.split("\n", header_line)
    if len(parts) <= header_line:
        return None
    body = parts[-1].rstrip()
    if not body or any(not line.strip() for line in body.splitlines()):
        return None  # no rows, or blank lines that would shift the line numbers of errors
    try:
        values = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2,
                            quotechar='"', comments=None)
    except ValueError:
        return None
    return values if values.shape[1] == width else None


def _one_line(exc):
    return " ".join(f"{type(exc).__name__}: {exc}".split())
