"""The layer contract shared by every layer: declare, bind views, forward, backward, config.

A layer is a *description* plus views: ``__init__`` validates its arguments at once,
``build(input_dim, dtype)`` declares its weights (:class:`~nnfast._params.WeightSpec`) and
returns its output width, the model's :class:`~nnfast._params.ParamStore` lays every weight out
in one flat buffer and ``bind`` hands the layer its views. ``allocate(batch)`` makes the
layer's per-batch workspaces once; ``forward(x, out, training)`` and ``backward(dy, dx)`` then
run on preallocated buffers only (rows ``[:n]`` of them for a smaller last batch).

``backward(dy, dx)`` may overwrite ``dy`` (the gradient of this layer's output, which nobody
else reads), writes the weight gradients into the gradient views when the layer is trainable,
and writes ``dL/dx`` into ``dx`` unless ``dx`` is None (the first layer needs no input gradient).
"""

import numpy as np

__all__ = ["Layer"]


class Layer:
    """Base class of nnfast layers.

    Parameters
    ----------
    name : str, optional
        A name for summaries and saved files. Defaults to a unique name given by the model.
    trainable : bool
        False freezes the layer's weights: no gradient, no update. Defaults to True.

    Examples
    --------
    >>> import nnfast as nf
    >>> layer = nf.layers.Dense(4)
    >>> layer.trainable = False
    >>> layer.get_config()["trainable"]
    False
    """

    def __init__(self, *, name=None, trainable=True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Expected name to be a str or None, received: name={name!r}")
        self.name = name
        self.trainable = trainable
        self.built = False
        self.input_dim = self.output_dim = self.dtype = None
        self.params, self.grads, self.state = {}, {}, {}

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"Expected trainable to be a bool, received: trainable={value!r}")
        self._trainable = bool(value)

    # --- declaration ---------------------------------------------------------------------
    def build(self, input_dim, dtype):
        """Record the input width and dtype; return the output width (same by default)."""
        self.input_dim, self.dtype = int(input_dim), np.dtype(dtype)
        self.output_dim = self.compute_output_dim(self.input_dim)
        self.built = True
        return self.output_dim

    def compute_output_dim(self, input_dim):
        return input_dim

    def weight_specs(self):
        """The trainable weights to lay out, in :meth:`get_weights` order (none by default)."""
        return []

    def state_specs(self):
        """The non-trainable weights (moving statistics), after the trainable ones."""
        return []

    def bind(self, params, grads, state):
        """Receive ``{name: view}`` dicts into the model's flat buffers."""
        self.params, self.grads, self.state = params, grads, state

    def allocate(self, batch):
        """Allocate the workspaces for batches of up to ``batch`` rows (none by default)."""

    # --- computation ---------------------------------------------------------------------
    def forward(self, x, out, training):
        raise NotImplementedError

    def backward(self, dy, dx):
        raise NotImplementedError

    @property
    def has_weights(self):
        return bool(self.weight_specs())

    def weight_names(self):
        """Names of the arrays :meth:`get_weights` returns, in order."""
        return [s.name for s in self.weight_specs()] + [s.name for s in self.state_specs()]

    def get_weights(self):
        """Copies of the layer's arrays (empty before its model builds it)."""
        if not self.built:
            return []
        views = {**self.params, **self.state}
        return [views[n].copy() for n in self.weight_names()]

    def set_weights(self, weights):
        """Copy arrays (in :meth:`get_weights` order, shapes checked) into a built layer."""
        names = self.weight_names()
        views = {**self.params, **self.state}
        if not self.built or len(views) != len(names):
            raise ValueError(f"Expected a layer built by its model, received: {self.name!r} unbuilt")
        if len(weights) != len(names):
            raise ValueError(f"Expected {len(names)} arrays for {self.name}, received: {len(weights)}")
        arrays = [np.asarray(w) for w in weights]
        for name, w in zip(names, arrays):
            if w.shape != views[name].shape:
                raise ValueError(f"Expected {self.name}.{name} of shape {views[name].shape}, "
                                 f"received: shape {w.shape}")
        for name, w in zip(names, arrays):
            np.copyto(views[name], w, casting="unsafe")

    def count_params(self):
        return sum(int(np.prod(s.shape)) for s in self.weight_specs() + self.state_specs())

    def regularization_penalty(self):
        """Sum of the penalties of this layer's regularized weights (0.0 without any)."""
        return sum(s.regularizer.penalty(self.params[s.name])
                   for s in self.weight_specs() if s.regularizer is not None)

    # --- config --------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"
