"""Activation: applies a named activation to its input, ``y = f(x)``."""

import numpy as np

from nnfast import activations
from nnfast.layers.base import Layer

__all__ = ["Activation"]


class Activation(Layer):
    """A layer that applies an activation function.

    Parameters
    ----------
    activation : str or nnfast.activations.Activation
        Any name of :mod:`nnfast.activations` (``"relu"``, ``"softmax"``, ...). Also accepted
        as ``name=`` when ``activation`` is not given (``Activation(name="relu")``, the
        contract's spelling); the layer's own name is then left to the model.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.Activation("relu")], input_dim=2)
    >>> model.predict(np.array([[-1.0, 2.0]]))
    array([[0., 2.]], dtype=float32)
    """

    def __init__(self, activation=None, **kw):
        if activation is None:
            if kw.get("name") is None:
                raise TypeError("Activation() missing its activation: pass a name such as "
                                "Activation('relu')")
            activation = kw.pop("name")
        super().__init__(**kw)
        self.activation = activations.get(activation)
        self.emit_logits = False  # set by the model when the loss fuses this activation

    def forward(self, x, out, training):
        self._x, self._y = x, out
        if self.emit_logits or self.activation.name == "linear":
            np.copyto(out, x)
            return out
        return self.activation.forward(x, out=out)

    def backward(self, dy, dx):
        if dx is None:
            return None
        if self.emit_logits or self.activation.name == "linear":
            np.copyto(dx, dy)
            return dx
        return self.activation.backward(dy, x=self._x, y=self._y, out=dx)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}
