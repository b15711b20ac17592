"""BatchNormalization (over the batch) and LayerNormalization (over the features).

Both keep their batch statistics and normalized input in workspaces made once per fit and use
NumPy reductions with ``out=`` buffers (compiled norm kernels are a later step).
"""

import numbers

import numpy as np

from nnfast import initializers
from nnfast._params import StateSpec, WeightSpec
from nnfast.layers.base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


def _check_epsilon(epsilon):
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
        raise ValueError(f"Expected epsilon > 0, received: epsilon={epsilon!r}")
    return float(epsilon)


class _Norm(Layer):
    """Shared parts: gamma/beta weights, workspaces, config."""

    def __init__(self, epsilon, **kw):
        super().__init__(**kw)
        self.epsilon = _check_epsilon(epsilon)
        self._cap = 0

    def weight_specs(self):
        d = (self.input_dim,)
        return [WeightSpec("gamma", d, initializers.get("ones")),
                WeightSpec("beta", d, initializers.get("zeros"))]

    def allocate(self, batch):
        if batch > self._cap:
            self._xhat = np.empty((batch, self.input_dim), self.dtype)
            self._tmp = np.empty((batch, self.input_dim), self.dtype)
            self._rows = np.empty((2, batch), self.dtype)  # per-row statistics (LayerNorm)
            self._cols = np.empty((3, self.input_dim), self.dtype)
            self._cap = batch

    def _weight_grads(self, dy, xhat):
        """Into the gradient views: dgamma = Σ dy·x̂, dbeta = Σ dy (nothing when frozen)."""
        if not self.trainable:
            return None, None
        dgamma, dbeta = self.grads["gamma"], self.grads["beta"]
        np.multiply(dy, xhat, out=self._tmp[:dy.shape[0]])
        np.sum(self._tmp[:dy.shape[0]], axis=0, out=dgamma)
        np.sum(dy, axis=0, out=dbeta)
        return dgamma, dbeta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


class BatchNormalization(_Norm):
    """Normalize each feature over the batch: ``y = gamma·(x − mean)/sqrt(var + eps) + beta``.

    Training uses the batch's mean and biased variance and updates
    ``moving = momentum·moving + (1 − momentum)·batch_stat``; inference uses the moving
    statistics. A frozen layer (``trainable=False``) runs in inference mode, as in Keras.

    Parameters
    ----------
    momentum : float
        In [0, 1). Defaults to 0.99.
    epsilon : float
        Positive. Defaults to 1e-3.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.BatchNormalization()], input_dim=2)
    >>> model.predict(np.zeros((1, 2)))
    array([[0., 0.]], dtype=float32)
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, **kw):
        super().__init__(epsilon, **kw)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
                or not 0.0 <= momentum < 1.0:
            raise ValueError(f"Expected momentum in [0, 1), received: momentum={momentum!r}")
        self.momentum = float(momentum)

    def state_specs(self):
        d = (self.input_dim,)
        return [StateSpec("moving_mean", d, 0.0), StateSpec("moving_variance", d, 1.0)]

    def forward(self, x, out, training):
        n = x.shape[0]
        self.allocate(n)
        mean, inv, scratch = self._cols
        xhat = self._xhat[:n]
        self._batch_stats = training and self.trainable
        if self._batch_stats:
            np.mean(x, axis=0, out=mean)
            np.subtract(x, mean, out=xhat)
            np.multiply(xhat, xhat, out=out)
            np.mean(out, axis=0, out=inv)                     # biased batch variance
            for moving, stat in ((self.state["moving_mean"], mean),
                                 (self.state["moving_variance"], inv)):
                np.multiply(moving, self.momentum, out=moving)
                np.multiply(stat, 1.0 - self.momentum, out=scratch)
                np.add(moving, scratch, out=moving)
        else:
            np.subtract(x, self.state["moving_mean"], out=xhat)
            np.copyto(inv, self.state["moving_variance"])
        np.add(inv, self.epsilon, out=inv)
        np.sqrt(inv, out=inv)
        np.divide(1.0, inv, out=inv)                          # 1 / sqrt(var + eps)
        np.multiply(xhat, inv, out=xhat)
        np.multiply(xhat, self.params["gamma"], out=out)
        np.add(out, self.params["beta"], out=out)
        return out

    def backward(self, dy, dx):
        n = dy.shape[0]
        xhat = self._xhat[:n]
        dgamma, dbeta = self._weight_grads(dy, xhat)
        if dx is None:
            return None
        _, inv, scratch = self._cols
        if self._batch_stats:   # dx = gamma·inv·(dy − mean(dy) − x̂·mean(dy·x̂))
            np.multiply(dgamma, 1.0 / n, out=scratch)
            np.multiply(xhat, scratch, out=dx)
            np.subtract(dy, dx, out=dx)
            np.multiply(dbeta, 1.0 / n, out=scratch)
            np.subtract(dx, scratch, out=dx)
        else:
            np.copyto(dx, dy)
        np.multiply(inv, self.params["gamma"], out=scratch)
        np.multiply(dx, scratch, out=dx)
        return dx

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


class LayerNormalization(_Norm):
    """Normalize each sample over its features: ``y = gamma·(x − mean_row)/sqrt(var_row + eps) + beta``.

    Parameters
    ----------
    epsilon : float
        Positive. Defaults to 1e-3.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.LayerNormalization()], input_dim=2)
    >>> np.round(model.predict(np.array([[1.0, 3.0]])), 3)
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, epsilon=1e-3, **kw):
        super().__init__(epsilon, **kw)

    def forward(self, x, out, training):
        n = x.shape[0]
        self.allocate(n)
        mean, inv = self._rows[0, :n], self._rows[1, :n]
        xhat = self._xhat[:n]
        np.mean(x, axis=1, out=mean)
        np.subtract(x, mean[:, None], out=xhat)
        np.multiply(xhat, xhat, out=out)
        np.mean(out, axis=1, out=inv)
        np.add(inv, self.epsilon, out=inv)
        np.sqrt(inv, out=inv)
        np.divide(1.0, inv, out=inv)
        np.multiply(xhat, inv[:, None], out=xhat)
        np.multiply(xhat, self.params["gamma"], out=out)
        np.add(out, self.params["beta"], out=out)
        return out

    def backward(self, dy, dx):
        n = dy.shape[0]
        xhat = self._xhat[:n]
        self._weight_grads(dy, xhat)
        if dx is None:
            return None
        g, s, inv = self._tmp[:n], self._rows[0, :n], self._rows[1, :n]
        np.multiply(dy, self.params["gamma"], out=g)         # dL/dx̂
        np.multiply(g, xhat, out=dx)
        np.mean(dx, axis=1, out=s)
        np.multiply(xhat, s[:, None], out=dx)                # x̂·mean(g·x̂)
        np.subtract(g, dx, out=dx)
        np.mean(g, axis=1, out=s)
        np.subtract(dx, s[:, None], out=dx)
        np.multiply(dx, inv[:, None], out=dx)
        return dx
