"""Debugging tools: the usual checklist for a network that does not train, as functions.

- :func:`gradient_check`: analytic gradients against central differences in float64, per
  weight tensor, with a pass/fail per tensor.
- :func:`activation_report`: per layer, dead ReLU units, saturated sigmoid/tanh units,
  mean/std of the activations, NaN/inf counts.
- :func:`gradient_norms` and the callback :class:`GradientMonitor` (also
  ``nf.callbacks.GradientMonitor``): per-layer gradient norms, once or at every epoch end.
- :func:`lr_finder`: the learning-rate range test, with a suggested learning rate.
- Plots (need matplotlib, ``pip install matplotlib``): :meth:`LRFinderResult.plot`,
  :meth:`GradientMonitor.plot`, :func:`plot_decision_boundary` (and ``History.plot``).

Every tool works on a private copy of the model (a *twin* built from the layers' configs), so
the model's weights, optimizer state and random generator are left exactly as they were.

>>> import numpy as np, nnfast as nf
>>> X = np.random.default_rng(0).normal(size=(32, 3)); y = (X[:, 0] > 0).astype(int)
>>> model = nf.Sequential([nf.layers.Dense(8, activation="relu"),
...                        nf.layers.Dense(1, activation="sigmoid")], input_dim=3, seed=0)
>>> model.compile("adam", "binary_crossentropy")
>>> nf.diagnostics.gradient_check(model, X, y).ok
True
>>> nf.diagnostics.activation_report(model, X)["dense"].units
8
"""

from nnfast.diagnostics.activity import ActivationReport, ActivationRow, activation_report
from nnfast.diagnostics.boundary import plot_decision_boundary
from nnfast.diagnostics.grad_norms import GradientNorms, gradient_norms
from nnfast.diagnostics.gradcheck import GradientCheckResult, GradientCheckRow, gradient_check
from nnfast.diagnostics.lr_range import LRFinderResult, lr_finder
from nnfast.diagnostics.monitor import GradientMonitor

__all__ = [
    "gradient_check", "GradientCheckResult", "GradientCheckRow",
    "activation_report", "ActivationReport", "ActivationRow",
    "gradient_norms", "GradientNorms", "GradientMonitor",
    "lr_finder", "LRFinderResult", "plot_decision_boundary",
]
