"""Dense: ``y = activation(x @ kernel + bias)`` with kernel ``(in, out)`` and bias ``(out,)``."""

import numbers

import numpy as np

from nnfast import activations, initializers, kernels as K, regularizers
from nnfast._params import WeightSpec
from nnfast.layers.base import Layer

__all__ = ["Dense"]


class Dense(Layer):
    """A fully connected layer.

    Parameters
    ----------
    units : int
        Output width, at least 1.
    activation : str or Activation, optional
        Any name of :mod:`nnfast.activations`. Defaults to None (linear).
    use_bias : bool
        Defaults to True.
    kernel_initializer, bias_initializer : str or initializer
        Defaults to ``"glorot_uniform"`` and ``"zeros"``.
    kernel_regularizer, bias_regularizer : regularizer, optional
        E.g. ``nf.regularizers.l2(1e-4)``. Defaults to None.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.Dense(3, activation="relu")], input_dim=2, seed=0)
    >>> model.predict(np.ones((4, 2))).shape
    (4, 3)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kw):
        super().__init__(**kw)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral):
            raise TypeError(f"Expected units to be a positive int, received: units={units!r}")
        if units < 1:
            raise ValueError(f"Expected units >= 1, received: units={units}")
        if not isinstance(use_bias, bool):
            raise TypeError(f"Expected use_bias to be a bool, received: use_bias={use_bias!r}")
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.emit_logits = False  # set by the model when the loss fuses the output activation
        self._z = None

    def compute_output_dim(self, input_dim):
        return self.units

    def weight_specs(self):
        specs = [WeightSpec("kernel", (self.input_dim, self.units), self.kernel_initializer,
                            self.kernel_regularizer)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.units,), self.bias_initializer,
                                    self.bias_regularizer))
        return specs

    def _keeps_z(self):
        """Whether the pre-activation needs its own buffer (derivative from x, or softmax)."""
        return self.activation.needs_input or self.activation.name == "softmax"

    def allocate(self, batch):
        if self._keeps_z() and (self._z is None or self._z.shape[0] < batch):
            self._z = np.empty((batch, self.units), self.dtype)

    def forward(self, x, out, training):
        self._x, self._y = x, out
        kernel, bias = self.params["kernel"], self.params.get("bias")
        act = self.activation
        if self.emit_logits or act.name == "linear":
            return K.dense_forward(x, kernel, bias, "linear", out=out)
        if not self._keeps_z():
            return K.dense_forward(x, kernel, bias, act.name, out=out)
        if self._z is None or self._z.shape[0] < x.shape[0]:
            self.allocate(x.shape[0])
        z = K.dense_forward(x, kernel, bias, "linear", out=self._z[:x.shape[0]])
        return act.forward(z, out=out)

    def backward(self, dy, dx):
        act = self.activation
        if not (self.emit_logits or act.name == "linear"):
            z = self._z[:dy.shape[0]] if self._keeps_z() else None
            dy = act.backward(dy, x=z, y=self._y, out=dy)
        if self.trainable:
            K.matmul(self._x, dy, transpose_a=True, out=self.grads["kernel"])
            if self.use_bias:
                K.bias_grad(dy, out=self.grads["bias"])
        if dx is not None:
            K.matmul(dy, self.params["kernel"], transpose_b=True, out=dx)
        return dx

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }

    @classmethod
    def from_config(cls, config):
        cfg = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            cfg[key] = initializers.deserialize(cfg[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            cfg[key] = regularizers.deserialize(cfg[key]) if cfg.get(key) is not None else None
        return cls(**cfg)
