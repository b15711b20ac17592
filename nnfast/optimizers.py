"""Optimizers with torch.optim's update rules, each one fused kernel over flat buffers.

An optimizer owns its state (momentum, moving averages) as flat buffers of the same layout as the
model's flat parameter buffer (:mod:`nnfast._params`), so a step is one kernel call over all
parameters (one per contiguous run of trainable parameters when some layers are frozen).
Variants are switches: SGD without momentum is plain gradient descent, AdamW is Adam with
decoupled weight decay.

The learning rate is a float or a schedule (:mod:`nnfast.schedules`) evaluated at
``iterations`` (updates done so far, from 0); ``lr_multiplier`` (ReduceLROnPlateau lowers it)
scales either: ``current_learning_rate() = lr(iterations) · lr_multiplier``.

>>> import numpy as np, nnfast as nf
>>> w = np.array([1.0, 2.0])
>>> nf.optimizers.SGD(learning_rate=0.5).apply_gradients([(np.array([1.0, 1.0]), w)])
>>> w
array([0.5, 1.5])
"""

import math
import numbers

import numpy as np

from nnfast._memory import aligned_zeros

from nnfast import kernels as K, schedules

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "get", "serialize", "deserialize"]


def _real(value, name, low=0.0, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected {name} to be a real number, received: {name}={value!r}")
    x = float(value)
    bad = not np.isfinite(x) or x < low or (low_open and x == low)
    bad = bad or (high is not None and (x > high or (high_open and x == high)))
    if bad:
        hi = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
        raise ValueError(f"Expected {name} in {'(' if low_open else '['}{low}, {hi}, "
                         f"received: {name}={value!r}")
    return x


def _check_lr(value):
    if isinstance(value, schedules.LearningRateSchedule):
        return value
    if callable(value) and not isinstance(value, numbers.Real):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("Expected learning_rate to be a non-negative float or a schedule, "
                        f"received: learning_rate={value!r}")
    if not np.isfinite(float(value)) or value < 0:
        raise ValueError(f"Expected learning_rate >= 0, received: learning_rate={value!r}")
    return float(value)


def scheduled_lr(schedule, step):
    """``schedule(step)`` as a float, checked: a callable that returns a negative, NaN or
    infinite rate raises here rather than training with it."""
    lr = schedule(step)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
        raise ValueError("Expected the learning_rate schedule to return a finite float >= 0, "
                         f"received: {lr!r} at step {step}")
    return float(lr)


class Optimizer:
    """Base class: learning rate, clipping, iterations, state buffers and the step loop.

    Parameters
    ----------
    learning_rate : float or schedule
        Non-negative float, or a callable of the step such as ``nf.schedules.CosineDecay``.
    clipnorm : float, optional
        Rescale each tensor's gradient to at most this L2 norm.
    clipvalue : float, optional
        Clip every gradient element to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float, optional
        Rescale all gradients together to at most this global L2 norm.
        At most one of the three clipping options may be set (as in Keras).
    """

    name = "optimizer"
    _slot_names = ()

    def __init__(self, learning_rate, *, clipnorm=None, clipvalue=None, global_clipnorm=None):
        self._learning_rate = _check_lr(learning_rate)
        self.lr_multiplier = 1.0
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = [k for k, x in clips.items() if x is not None]
        if len(given) > 1:
            raise ValueError("Expected at most one of clipnorm, clipvalue and global_clipnorm, "
                             f"received: {', '.join(f'{k}={clips[k]!r}' for k in given)}")
        self.clipnorm, self.clipvalue, self.global_clipnorm = (
            None if x is None else _real(x, k, low_open=True) for k, x in clips.items())
        self.iterations = 0
        self.slots = {}      # state name -> flat buffer
        self._bound = None   # (params, grads, runs, tensors) the step loop works on

    # --- learning rate -------------------------------------------------------------------
    @property
    def learning_rate(self):
        """A float or a schedule; setting it resets :attr:`lr_multiplier` to 1.0."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _check_lr(value)
        self.lr_multiplier = 1.0

    @property
    def lr_multiplier(self):
        return self._lr_multiplier

    @lr_multiplier.setter
    def lr_multiplier(self, value):
        self._lr_multiplier = _real(value, "lr_multiplier")

    def current_learning_rate(self):
        """``learning_rate`` at ``iterations`` (if a schedule) times ``lr_multiplier``."""
        lr = self._learning_rate
        if not isinstance(lr, float):
            lr = scheduled_lr(lr, self.iterations)
        return lr * self._lr_multiplier

    # --- state and binding ---------------------------------------------------------------
    def build(self, size, dtype):
        """Allocate the state buffers (zeros) for ``size`` flat parameters; resets iterations."""
        self.slots = {n: aligned_zeros(size, dtype) for n in self._active_slots()}
        self.iterations = 0
        self._bound = None

    def _active_slots(self):
        return self._slot_names

    def bind(self, params, grads, runs, tensors):
        """Work on flat ``params``/``grads`` over ``runs`` [(lo, hi)]; ``tensors`` for clipnorm."""
        views = [(params[lo:hi], grads[lo:hi], {k: s[lo:hi] for k, s in self.slots.items()})
                 for lo, hi in runs]
        self._bound = (views, [grads[lo:hi] for lo, hi in tensors], [g for _, g, _ in views])

    def step(self):
        """Clip, then update every bound parameter run in place; ``iterations += 1``."""
        views, tensor_grads, run_grads = self._bound
        if self.clipnorm is not None:
            for g in tensor_grads:
                K.clip_by_norm(g, self.clipnorm)
        elif self.clipvalue is not None:
            for g in run_grads:
                K.clip_by_value(g, self.clipvalue)
        elif self.global_clipnorm is not None and run_grads:
            K.clip_by_global_norm(run_grads, self.global_clipnorm)
        lr = self.current_learning_rate()
        for p, g, state in views:
            self._update(p, g, state, lr)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars):
        """One step on arbitrary arrays: ``[(grad, var), ...]``, ``var`` updated in place.

        The state is kept per position in the list, so call it with the same variables each time.
        Each variable must be a writable C-contiguous float array of its gradient's shape.
        """
        pairs = list(grads_and_vars)
        variables = [var for _, var in pairs]
        for i, (g, var) in enumerate(pairs):
            if not isinstance(var, np.ndarray) or not var.flags.c_contiguous or not var.flags.writeable:
                raise TypeError(f"Expected variable {i} to be a writable C-contiguous ndarray, "
                                f"received: {type(var).__name__}")
            if np.shape(g) != var.shape:
                raise ValueError(f"Expected gradient {i} of shape {var.shape}, received: {np.shape(g)}")
        key = tuple(id(var) for var in variables)
        if getattr(self, "_apply_key", None) != key:
            self._apply_key = key
            self._apply_state = [{n: np.zeros(var.size, var.dtype) for n in self._active_slots()}
                                 for var in variables]
            self.iterations = 0
        grads = [np.ascontiguousarray(g, dtype=var.dtype).reshape(-1).copy() for g, var in pairs]
        views = [(var.reshape(-1), g, st) for var, g, st in zip(variables, grads, self._apply_state)]
        self._bound, saved = (views, grads, grads), self._bound
        try:
            self.step()
        finally:
            self._bound = saved

    def _update(self, param, grad, state, lr):
        raise NotImplementedError

    # --- config and state ----------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        return {"learning_rate": lr if isinstance(lr, float) else schedules.serialize(lr),
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        cfg = dict(config)
        if isinstance(cfg.get("learning_rate"), dict):
            cfg["learning_rate"] = schedules.deserialize(cfg["learning_rate"])
        return cls(**cfg)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD): ``b = μb + g``, ``p -= lr·b``.

    Nesterov: ``p -= lr·(g + μb)``. ``weight_decay`` adds ``wd·p`` to the gradient first.

    Parameters
    ----------
    learning_rate : float or schedule
        Defaults to 0.01.
    momentum : float
        In [0, 1]. Defaults to 0.0.
    nesterov : bool
        Defaults to False (needs momentum > 0).
    weight_decay : float
        Defaults to 0.0.

    Examples
    --------
    >>> import nnfast as nf
    >>> nf.optimizers.SGD(0.1, momentum=0.9).current_learning_rate()
    0.1
    """

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, **kw):
        super().__init__(learning_rate, **kw)
        self.momentum = _real(momentum, "momentum", high=1.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"Expected nesterov to be a bool, received: nesterov={nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("Expected momentum > 0 with nesterov=True, received: momentum=0.0")
        self.nesterov = nesterov
        self.weight_decay = _real(weight_decay, "weight_decay")

    def _active_slots(self):
        return ("momentum",) if self.momentum > 0.0 else ()

    def _update(self, param, grad, state, lr):
        K.sgd_update(param, grad, state.get("momentum"), learning_rate=lr, momentum=self.momentum,
                     nesterov=self.nesterov, weight_decay=self.weight_decay)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): ``v = ρv + (1 − ρ)g²``, ``p -= lr·g/(√v + ε)``.

    With momentum: ``b = μb + g/(√v + ε)``, ``p -= lr·b``.

    Parameters
    ----------
    learning_rate : float or schedule
        Defaults to 1e-3.
    rho : float
        In [0, 1). Defaults to 0.9.
    epsilon : float
        Defaults to 1e-8.
    momentum : float
        In [0, 1]. Defaults to 0.0.
    weight_decay : float
        Adds ``wd·p`` to the gradient. Defaults to 0.0.

    Examples
    --------
    >>> import nnfast as nf
    >>> nf.optimizers.RMSprop().get_config()["rho"]
    0.9
    """

    name = "rmsprop"

    def __init__(self, learning_rate=1e-3, rho=0.9, epsilon=1e-8, momentum=0.0, weight_decay=0.0,
                 **kw):
        super().__init__(learning_rate, **kw)
        self.rho = _real(rho, "rho", high=1.0, high_open=True)
        self.epsilon = _real(epsilon, "epsilon")
        self.momentum = _real(momentum, "momentum", high=1.0)
        self.weight_decay = _real(weight_decay, "weight_decay")

    def _active_slots(self):
        return ("square_avg", "momentum") if self.momentum > 0.0 else ("square_avg",)

    def _update(self, param, grad, state, lr):
        K.rmsprop_update(param, grad, state["square_avg"], state.get("momentum"), learning_rate=lr,
                         rho=self.rho, epsilon=self.epsilon, momentum=self.momentum,
                         weight_decay=self.weight_decay)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon,
                "momentum": self.momentum, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (torch.optim.Adam, the paper's algorithm 1): bias-corrected moments.

    ``m = β₁m + (1 − β₁)g``, ``v = β₂v + (1 − β₂)g²``, ``p -= lr·m̂/(√v̂ + ε)``;
    ``weight_decay`` adds ``wd·p`` to the gradient (L2), AdamW decouples it.

    Parameters
    ----------
    learning_rate : float or schedule
        Defaults to 1e-3.
    beta_1, beta_2 : float
        In [0, 1). Default to 0.9 and 0.999.
    epsilon : float
        Defaults to 1e-8.
    weight_decay : float
        Defaults to 0.0.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> w = np.zeros(2)
    >>> nf.optimizers.Adam(0.1).apply_gradients([(np.array([1.0, -1.0]), w)])
    >>> np.round(w, 6)
    array([-0.1,  0.1])
    """

    name = "adam"
    _slot_names = ("m", "v")
    _decoupled = False

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, **kw):
        super().__init__(learning_rate, **kw)
        self.beta_1 = _real(beta_1, "beta_1", high=1.0, high_open=True)
        self.beta_2 = _real(beta_2, "beta_2", high=1.0, high_open=True)
        self.epsilon = _real(epsilon, "epsilon")
        self.weight_decay = _real(weight_decay, "weight_decay")

    def _update(self, param, grad, state, lr):
        K.adam_update(param, grad, state["m"], state["v"], step=self.iterations + 1,
                      learning_rate=lr, beta_1=self.beta_1, beta_2=self.beta_2,
                      epsilon=self.epsilon, weight_decay=self.weight_decay,
                      decoupled=self._decoupled)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): ``p -= lr·wd·p`` before the step.

    Parameters as :class:`Adam`; ``weight_decay`` defaults to 0.01.

    Examples
    --------
    >>> import nnfast as nf
    >>> nf.optimizers.AdamW().weight_decay
    0.01
    """

    name = "adamw"
    _decoupled = True

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.01, **kw):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **kw)


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
_CLASSES = {c.__name__: c for c in _BY_NAME.values()}


def get(identifier):
    """An optimizer from a name (``sgd``, ``rmsprop``, ``adam``, ``adamw``) or an object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Expected optimizer to be one of {', '.join(_BY_NAME)} or an "
                             f"Optimizer object, received: optimizer={identifier!r}")
        return cls()
    raise TypeError("Expected optimizer to be a name or an nnfast.optimizers.Optimizer, "
                    f"received: optimizer={identifier!r}")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"Expected an optimizer class among {sorted(_CLASSES)}, received: {config!r}")
    return _CLASSES[config["class_name"]].from_config(dict(config.get("config") or {}))
