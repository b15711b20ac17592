"""Activation report: per layer, how the units behave over a data set (inference mode).

For every layer's output over ``X`` (run through a twin of the model in inference mode, in
chunks, as ``predict`` does): the mean and standard deviation of the activations, the counts of
NaN and infinite values, and, where the layer's activation makes them meaningful:

- ``dead`` (ReLU): the fraction of units whose output is 0 on *every* sample. Such a unit
  passes no gradient, so it never recovers (typically killed by a large negative bias or a
  too large learning rate).
- ``saturated`` (sigmoid, tanh): the fraction of units saturated on every sample, where an
  output is saturated within ``saturation`` (default 0.01) of the bounds: sigmoid ``y < s`` or
  ``y > 1 − s`` (``|z| > 4.6`` for ``s = 0.01``), tanh ``|y| > 1 − s`` (``|z| > 2.65``); there the
  derivative is below ``s`` (sigmoid) or ``2s`` (tanh). ``saturated_outputs`` is the fraction of
  all the layer's outputs that are saturated.

The output layer reports probabilities (the activation the model predicts with), also when the
loss works on logits.
"""

from dataclasses import dataclass, field

import numpy as np

from nnfast.diagnostics._common import check_model, format_table, integer, real, twin

__all__ = ["activation_report", "ActivationReport", "ActivationRow"]

_DEAD = frozenset({"relu"})
_SATURATING = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@dataclass
class ActivationRow:
    """Statistics of one layer's output (``None`` where a quantity does not apply)."""

    layer: str
    kind: str
    activation: str
    units: int
    mean: float
    std: float
    dead: float = None
    saturated: float = None
    saturated_outputs: float = None
    nan: int = 0
    inf: int = 0
    dead_units: list = field(default_factory=list)
    saturated_units: list = field(default_factory=list)


@dataclass
class ActivationReport:
    """Rows per layer; ``report["dense"]`` or ``report[0]`` gives one, ``str(report)`` a table.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.Dense(4, activation="relu", bias_initializer="ones"),
    ...                        nf.layers.Dense(1, activation="sigmoid")], input_dim=2, seed=0)
    >>> report = nf.diagnostics.activation_report(model, np.zeros((5, 2)))
    >>> report["dense"].dead, report["dense"].mean
    (0.0, 1.0)
    """

    rows: list = field(default_factory=list)
    n_samples: int = 0
    saturation: float = 0.01

    def __getitem__(self, key):
        if isinstance(key, str):
            for row in self.rows:
                if row.layer == key:
                    return row
            raise KeyError(f"Expected a layer name among {[r.layer for r in self.rows]}, "
                           f"received: {key!r}")
        return self.rows[key]

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @property
    def finite(self):
        """Whether no layer produced a NaN or infinite value."""
        return all(r.nan == 0 and r.inf == 0 for r in self.rows)

    def __str__(self):
        rows = [(r.layer, r.kind, r.activation, r.units, r.mean, r.std, r.dead, r.saturated,
                 r.saturated_outputs, r.nan, r.inf) for r in self.rows]
        title = (f"Activations over {self.n_samples} samples (inference mode; saturated within "
                 f"{self.saturation:g} of the bounds)")
        return format_table(["layer", "type", "activation", "units", "mean", "std", "dead",
                             "saturated", "sat. outputs", "nan", "inf"], rows, title)


class _Stats:
    """Running sums of one layer's outputs over the chunks."""

    def __init__(self, units, activation, saturation):
        self.activation, self.saturation = activation, saturation
        self.count = self.nan = self.inf = 0
        self.total = self.squares = 0.0
        self.alive = np.zeros(units, bool) if activation in _DEAD else None
        self.always_saturated = np.ones(units, bool) if activation in _SATURATING else None
        self.n_saturated = 0

    def update(self, out):
        finite = np.isfinite(out)
        self.nan += int(np.isnan(out).sum())
        self.inf += int(np.isinf(out).sum())
        values = out[finite].astype(np.float64)
        self.count += values.size
        self.total += float(values.sum())
        self.squares += float(np.square(values).sum())
        if self.alive is not None:
            self.alive |= (out != 0).any(axis=0)
        if self.always_saturated is not None:
            low, high = _SATURATING[self.activation]
            s = self.saturation
            saturated = (out < low + s) | (out > high - s)
            self.always_saturated &= saturated.all(axis=0)
            self.n_saturated += int(saturated.sum())

    def row(self, layer, units, n):
        mean = self.total / self.count if self.count else float("nan")
        var = self.squares / self.count - mean * mean if self.count else float("nan")
        row = ActivationRow(layer.name, type(layer).__name__, self.activation or "-", units,
                            mean, float(np.sqrt(max(var, 0.0))), nan=self.nan, inf=self.inf)
        if self.alive is not None:
            row.dead_units = np.flatnonzero(~self.alive).tolist()
            row.dead = len(row.dead_units) / units
        if self.always_saturated is not None:
            row.saturated_units = np.flatnonzero(self.always_saturated).tolist()
            row.saturated = len(row.saturated_units) / units
            row.saturated_outputs = self.n_saturated / (n * units)
        return row


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    return getattr(act, "name", None)


def activation_report(model, X, *, saturation=0.01, batch_size=1024):
    """Dead ReLU units, saturated sigmoid/tanh units, mean/std and NaN/inf counts per layer.

    Parameters
    ----------
    model : Sequential
        Built (or with ``input_dim``); compiled or not. Not modified.
    X : array-like of shape (n, d)
        The data to run through the model (inference mode).
    saturation : float
        In (0, 0.5): distance to the bounds within which a sigmoid/tanh output counts as
        saturated. Defaults to 0.01.
    batch_size : int
        Rows per forward pass (bounds memory only). Defaults to 1024.

    Returns
    -------
    ActivationReport
    """
    check_model(model, "activation_report", compiled=False)
    saturation = real(saturation, "saturation", low=0.0, low_open=True, high=0.5, high_open=True)
    batch_size = integer(batch_size, "batch_size", low=1)
    probe = twin(model, compile=False)
    X = probe._inputs(X)
    n = X.shape[0]
    bs = min(batch_size, n)
    layers = probe.layers
    outs = [np.empty((bs, layer.output_dim), probe.dtype) for layer in layers]
    stats = [_Stats(layer.output_dim, _activation_name(layer), saturation) for layer in layers]
    for layer in layers:
        layer.allocate(bs)
    for lo in range(0, n, bs):
        h = X[lo:lo + bs]
        k = h.shape[0]
        for layer, out, st in zip(layers, outs, stats):
            h = layer.forward(h, out[:k], False)
            st.update(h)
    report = ActivationReport(n_samples=n, saturation=saturation)
    report.rows = [st.row(layer, layer.output_dim, n) for layer, st in zip(layers, stats)]
    return report
