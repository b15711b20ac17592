"""BatchNormalization (over the batch) and LayerNormalization (over the features).

Forward and backward passes run the compiled kernels of :mod:`nnfast.kernels`
(``batch_norm_*``, ``layer_norm_*``); the layer keeps the statistics they return for its
backward pass and updates BatchNormalization's moving statistics in place.
"""

import numbers

import numpy as np

from nnfast import initializers, kernels as K
from nnfast._kernels import norm as _norm_kernels
from nnfast._params import StateSpec, WeightSpec
from nnfast.layers.base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


class _Norm(Layer):
    """Shared parts: epsilon, gamma/beta weights, a scratch buffer, the weight gradients."""

    def __init__(self, epsilon, **kw):
        super().__init__(**kw)
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"Expected epsilon > 0, received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self._tmp = None

    def weight_specs(self):
        d = (self.input_dim,)
        return [WeightSpec("gamma", d, initializers.get("ones")),
                WeightSpec("beta", d, initializers.get("zeros"))]

    def allocate(self, batch):
        if self._tmp is None or self._tmp.shape[0] < batch:
            self._tmp = np.empty((batch, self.input_dim), self.dtype)

    def _store_grads(self, dgamma, dbeta):
        if self.trainable:
            np.copyto(self.grads["gamma"], dgamma)
            np.copyto(self.grads["beta"], dbeta)

    def _dx_buffer(self, dx, n):
        """Where the kernel writes dx: ``dx``, or scratch when only the weight grads are needed."""
        if dx is not None:
            return dx
        self.allocate(n)
        return self._tmp[:n]

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
        self._x = x
        self._batch_stats = training and self.trainable
        gamma, beta = self.params["gamma"], self.params["beta"]
        mm, mv = self.state["moving_mean"], self.state["moving_variance"]
        if not self._batch_stats:
            return K.batch_norm_inference(x, gamma, beta, mm, mv, epsilon=self.epsilon, out=out)
        _, self._mean, self._inv = K.batch_norm_forward(x, gamma, beta, epsilon=self.epsilon, out=out)
        # moving = m·moving + (1 − m)·batch statistic (the biased variance, from inv_std), in
        # the kernel the compiled training plan calls too (nnfast._plan: the same bits)
        _norm_kernels.batch_norm_update_moving(self._mean, self._inv, self.epsilon, self.momentum,
                                               mm, mv)
        return out

    def backward(self, dy, dx):
        n = dy.shape[0]
        gamma = self.params["gamma"]
        if self._batch_stats:
            _, dgamma, dbeta = K.batch_norm_backward(dy, self._x, gamma, self._mean, self._inv,
                                                     out=self._dx_buffer(dx, n))
            self._store_grads(dgamma, dbeta)
        elif dx is not None:  # frozen: inference mode, dx = dy·gamma/sqrt(moving_var + eps)
            scale = gamma / np.sqrt(self.state["moving_variance"].astype(np.float64) + self.epsilon)
            np.multiply(dy, scale.astype(self.dtype), out=dx)
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
        self._x = x
        _, self._mean, self._inv = K.layer_norm_forward(x, self.params["gamma"], self.params["beta"],
                                                        epsilon=self.epsilon, out=out)
        return out

    def backward(self, dy, dx):
        if dx is None and not self.trainable:
            return None
        _, dgamma, dbeta = K.layer_norm_backward(dy, self._x, self.params["gamma"], self._mean,
                                                 self._inv, out=self._dx_buffer(dx, dy.shape[0]))
        self._store_grads(dgamma, dbeta)
        return dx
