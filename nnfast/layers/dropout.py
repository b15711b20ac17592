"""Dropout: inverted dropout, ``y = x * mask / (1 - rate)`` in training, identity in inference."""

import numbers

import numpy as np

from nnfast import kernels as K
from nnfast.layers.base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zero each input with probability ``rate`` during training and scale the rest up.

    Each training step draws a fresh 64-bit seed from the model's seeded
    ``numpy.random.Generator``; the compiled kernel derives every element's draw from that seed
    and the element's position, writing the mask into a buffer made once per fit. A seeded run
    is therefore reproducible (and independent of the thread count). In inference the layer is
    the identity.

    Parameters
    ----------
    rate : float
        Drop probability, in [0, 1).

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.Dropout(0.5)], input_dim=3, seed=0)
    >>> model.predict(np.ones((1, 3)))  # identity outside training
    array([[1., 1., 1.]], dtype=float32)
    """

    def __init__(self, rate, **kw):
        super().__init__(**kw)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise TypeError(f"Expected rate to be a float in [0, 1), received: rate={rate!r}")
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Expected rate in [0, 1), received: rate={rate!r}")
        self.rate = float(rate)
        self.rng = None  # the model's Generator, set when the model builds
        self._mask = None

    def allocate(self, batch):
        if self._mask is None or self._mask.shape[0] < batch:
            self._mask = np.empty((batch, self.input_dim), self.dtype)

    def forward(self, x, out, training):
        self._active = training and self.rate > 0.0
        if not self._active:
            np.copyto(out, x)
            return out
        n = x.shape[0]
        self.allocate(n)
        seed = int(self.rng.integers(0, 2**63))
        K.dropout_forward(x, self.rate, seed, out=out, mask=self._mask[:n])
        return out

    def backward(self, dy, dx):
        if dx is None:
            return None
        if self._active:
            K.dropout_backward(dy, self._mask[:dy.shape[0]], out=dx)
        else:
            np.copyto(dx, dy)
        return dx

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
