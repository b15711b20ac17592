"""Per-layer gradient norms: the L2 norm of each trainable tensor's gradient and of each layer's.

Computed with :meth:`Sequential.compute_gradients` on a twin of the model, so nothing of the
model changes. In training mode (the default) Dropout masks come from the twin's own generator,
restarted from a fixed state (``seed``) for each computation, so repeated calls with the same
weights give the same norms. Norms that shrink by orders of magnitude from the last layer to
the first show vanishing gradients; norms that grow without bound, exploding ones.
"""

from dataclasses import dataclass, field

import numpy as np

from nnfast.diagnostics._common import check_model, format_table, integer, trainable_tensors, twin

__all__ = ["gradient_norms", "GradientNorms"]


@dataclass
class GradientNorms:
    """Norms per tensor (``tensors``: ``{"layer/weight": norm}``) and per layer (``layers``).

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> X = np.random.default_rng(0).normal(size=(16, 3)); y = X[:, :1]
    >>> model = nf.Sequential([nf.layers.Dense(4, activation="tanh"), nf.layers.Dense(1)],
    ...                       input_dim=3, seed=0)
    >>> model.compile("sgd", "mse")
    >>> norms = nf.diagnostics.gradient_norms(model, X, y)
    >>> sorted(norms.layers), sorted(norms.tensors)[:2]
    (['dense', 'dense_1'], ['dense/bias', 'dense/kernel'])
    """

    layers: dict = field(default_factory=dict)
    tensors: dict = field(default_factory=dict)
    loss: float = float("nan")

    @property
    def global_norm(self):
        return float(np.sqrt(sum(v * v for v in self.tensors.values())))

    def __str__(self):
        rows = []
        for name, total in self.layers.items():
            rows.append((name, "(all)", total))
            rows += [("", key.split("/", 1)[1], v) for key, v in self.tensors.items()
                     if key.split("/", 1)[0] == name]
        title = f"Gradient norms (loss {self.loss:.6g}, global norm {self.global_norm:.4g})"
        return format_table(["layer", "weight", "L2 norm"], rows, title)


def norms_of(probe, X, T, W, training, state):
    """:class:`GradientNorms` of ``probe`` on prepared arrays, the generator set to ``state``."""
    probe._rng.bit_generator.state = state
    loss, grads = probe.compute_gradients(X, T, sample_weight=W, training=training)
    result = GradientNorms(loss=loss)
    for (layer, name, _), g in zip(trainable_tensors(probe), grads):
        norm = float(np.linalg.norm(g.reshape(-1).astype(np.float64)))
        result.tensors[f"{layer}/{name}"] = norm
        result.layers[layer] = float(np.hypot(result.layers.get(layer, 0.0), norm))
    return result


def gradient_norms(model, X, y, *, sample_weight=None, training=True, seed=0):
    """The gradient norm of every trainable tensor and layer on ``(X, y)`` as one batch.

    Parameters
    ----------
    model : Sequential
        Built (or with ``input_dim``) and compiled. Not modified.
    X : array-like of shape (n, d)
    y : array-like
        Targets, as for ``fit``.
    sample_weight : array-like of shape (n,), optional
    training : bool
        Training mode (Dropout active with fixed masks, batch statistics) or inference mode.
        Defaults to True.
    seed : int
        Seeds the Dropout masks. Defaults to 0.

    Returns
    -------
    GradientNorms
    """
    check_model(model, "gradient_norms")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"Expected training to be a bool, received: training={training!r}")
    state = np.random.default_rng(integer(seed, "seed", low=0)).bit_generator.state
    probe = twin(model)
    X, T, _, W = probe._data(X, y, sample_weight)
    return norms_of(probe, X, T, W, bool(training), state)
