"""Learning-rate schedules: callables of the optimizer step returning a float.

``step`` is the number of optimizer updates done so far, counted from 0, so the first update
uses ``schedule(0)``. An optimizer whose ``learning_rate`` is a schedule evaluates it at its
``iterations`` counter (times its ``lr_multiplier``, which ReduceLROnPlateau lowers).

>>> import nnfast.schedules as sch
>>> s = sch.StepDecay(0.1, step_size=100, gamma=0.5)
>>> s(0), s(99), s(100), s(250)
(0.1, 0.1, 0.05, 0.025)
"""

import math
import numbers

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "StepDecay", "CosineDecay", "CosineDecayRestarts",
    "LinearWarmup", "serialize", "deserialize",
]


def _real(value, name, *, low=None, low_open=False, high=None, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected {name} to be a real number, received: {name}={value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    bad = bad or (low is not None and (v < low or (low_open and v == low)))
    bad = bad or (high is not None and (v > high or (high_open and v == high)))
    if bad:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + repr(low)
        hi = "inf)" if high is None else repr(high) + (")" if high_open else "]")
        raise ValueError(f"Expected {name} in {lo}, {hi}, received: {name}={value!r}")
    return v


def _int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an integer, received: {name}={value!r}")
    if value < low:
        raise ValueError(f"Expected {name} >= {low}, received: {name}={value!r}")
    return int(value)


def _step(step):
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(f"Expected step to be a number, received: step={step!r}")
    s = float(step)
    if not (s >= 0.0):
        raise ValueError(f"Expected step >= 0, received: step={step!r}")
    return s


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float`` and ``get_config()``.

    Subclasses implement ``_lr(step)`` for a validated float ``step >= 0``.

    Examples
    --------
    >>> class InverseTime(LearningRateSchedule):
    ...     def _lr(self, step):
    ...         return 0.1 / (1.0 + step / 100)
    >>> InverseTime()(100)
    0.05
    """

    def __call__(self, step):
        return float(self._lr(_step(step)))

    def _lr(self, step):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``lr = initial · decay_rate ** (step / decay_steps)`` (floored exponent if staircase).

    Parameters
    ----------
    initial_learning_rate : float
        Non-negative starting rate.
    decay_steps : float
        Positive number of steps per decay by ``decay_rate``.
    decay_rate : float
        Positive decay factor.
    staircase : bool, optional
        Decay in discrete jumps (``floor(step / decay_steps)``). Defaults to False.

    >>> ExponentialDecay(1.0, decay_steps=10, decay_rate=0.5)(20)
    0.25
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.decay_steps = _real(decay_steps, "decay_steps", low=0.0, low_open=True)
        self.decay_rate = _real(decay_rate, "decay_rate", low=0.0, low_open=True)
        self.staircase = bool(staircase)

    def _lr(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate, "staircase": self.staircase,
        }


class StepDecay(LearningRateSchedule):
    """``lr = initial · gamma ** floor(step / step_size)`` (torch's StepLR, counted in steps).

    Parameters
    ----------
    initial_learning_rate : float
        Non-negative starting rate.
    step_size : int
        Positive number of steps between decays.
    gamma : float, optional
        Positive multiplicative factor per decay. Defaults to 0.1.

    >>> StepDecay(1.0, step_size=5, gamma=0.5)(12)
    0.25
    """

    def __init__(self, initial_learning_rate, step_size, gamma=0.1):
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.step_size = _int(step_size, "step_size", 1)
        self.gamma = _real(gamma, "gamma", low=0.0, low_open=True)

    def _lr(self, step):
        return self.initial_learning_rate * self.gamma ** math.floor(step / self.step_size)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "step_size": self.step_size,
                "gamma": self.gamma}


class CosineDecay(LearningRateSchedule):
    """Linear warmup from 0, then cosine decay from ``initial`` to ``alpha · initial`` (Keras).

    For ``step < warmup_steps``: ``lr = initial · step / warmup_steps``. Afterwards, with
    ``t = min(step - warmup_steps, decay_steps)``:
    ``lr = initial · ((1 - alpha) · 0.5 · (1 + cos(π · t / decay_steps)) + alpha)``, which
    stays at ``alpha · initial`` once the decay is over.

    Parameters
    ----------
    initial_learning_rate : float
        Non-negative peak rate.
    decay_steps : float
        Positive number of steps of the cosine part.
    alpha : float, optional
        Final rate as a fraction of ``initial_learning_rate``, in [0, 1]. Defaults to 0.0.
    warmup_steps : int, optional
        Non-negative number of warmup steps. Defaults to 0.

    >>> CosineDecay(1.0, decay_steps=10)(5)
    0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_steps=0):
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.decay_steps = _real(decay_steps, "decay_steps", low=0.0, low_open=True)
        self.alpha = _real(alpha, "alpha", low=0.0, high=1.0)
        self.warmup_steps = _int(warmup_steps, "warmup_steps", 0)

    def _lr(self, step):
        if step < self.warmup_steps:
            return self.initial_learning_rate * step / self.warmup_steps
        t = min(step - self.warmup_steps, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * t / self.decay_steps))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter; Keras's formula).

    Period ``i`` (from 0) lasts ``first_decay_steps · t_mul**i`` steps and starts at
    ``initial · m_mul**i``; within a period at fraction ``f`` of its length,
    ``lr = initial · ((1 - alpha) · m_mul**i · 0.5 · (1 + cos(π · f)) + alpha)``.

    Parameters
    ----------
    initial_learning_rate : float
        Non-negative starting rate.
    first_decay_steps : float
        Positive length of the first period.
    t_mul : float, optional
        Growth factor of the period length, >= 1. Defaults to 2.0.
    m_mul : float, optional
        Factor applied to the restart rate at each restart, in (0, 1]. Defaults to 1.0.
    alpha : float, optional
        Minimum rate as a fraction of ``initial_learning_rate``, in [0, 1]. Defaults to 0.0.

    >>> s = CosineDecayRestarts(1.0, first_decay_steps=10)
    >>> s(0), s(10), s(30)
    (1.0, 1.0, 1.0)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.first_decay_steps = _real(first_decay_steps, "first_decay_steps", low=0.0, low_open=True)
        self.t_mul = _real(t_mul, "t_mul", low=1.0)
        self.m_mul = _real(m_mul, "m_mul", low=0.0, low_open=True, high=1.0)
        self.alpha = _real(alpha, "alpha", low=0.0, high=1.0)

    def _period(self, fraction):
        """``(i, f)``: index of the period holding ``fraction`` (steps / first) and the part done."""
        t = self.t_mul
        if t == 1.0:
            i = math.floor(fraction)
            return i, fraction - i
        # Period i starts at S(i) = (t**i - 1) / (t - 1) first-periods.
        i = math.floor(math.log(1.0 + fraction * (t - 1.0)) / math.log(t))
        while i > 0 and (t ** i - 1.0) / (t - 1.0) > fraction:  # guard rounding at the edges
            i -= 1
        while (t ** (i + 1) - 1.0) / (t - 1.0) <= fraction:
            i += 1
        start = (t ** i - 1.0) / (t - 1.0)
        return i, (fraction - start) / t ** i

    def _lr(self, step):
        i, f = self._period(step / self.first_decay_steps)
        cosine = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * f))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha}


class LinearWarmup(LearningRateSchedule):
    """0 → ``initial`` linearly over ``warmup_steps``, then constant or ``after(step - warmup)``.

    Parameters
    ----------
    initial_learning_rate : float
        Non-negative rate reached at the end of the warmup.
    warmup_steps : int
        Non-negative number of warmup steps.
    after : LearningRateSchedule or callable, optional
        Schedule used after the warmup, called with ``step - warmup_steps`` (so it starts
        from its own step 0). Defaults to None: stay at ``initial_learning_rate``.

    >>> s = LinearWarmup(0.1, warmup_steps=4, after=StepDecay(0.1, step_size=10, gamma=0.5))
    >>> s(0), s(2), s(4), s(14)
    (0.0, 0.05, 0.1, 0.05)
    """

    def __init__(self, initial_learning_rate, warmup_steps, after=None):
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", low=0.0)
        self.warmup_steps = _int(warmup_steps, "warmup_steps", 0)
        if isinstance(after, dict):
            after = deserialize(after)
        if after is not None and not callable(after):
            raise TypeError(
                f"Expected after to be a schedule, a callable or None, received: after={after!r}"
            )
        self.after = after

    def _lr(self, step):
        if step < self.warmup_steps:
            return self.initial_learning_rate * step / self.warmup_steps
        if self.after is None:
            return self.initial_learning_rate
        return self.after(step - self.warmup_steps)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "warmup_steps": self.warmup_steps,
                "after": None if self.after is None else serialize(self.after)}


_CLASSES = {cls.__name__: cls for cls in (
    ExponentialDecay, StepDecay, CosineDecay, CosineDecayRestarts, LinearWarmup,
)}


def serialize(schedule):
    """``{"class_name", "config"}`` describing a built-in schedule (JSON-serializable).

    >>> serialize(StepDecay(0.1, 10))
    {'class_name': 'StepDecay', 'config': {'initial_learning_rate': 0.1, 'step_size': 10, 'gamma': 0.1}}
    """
    if isinstance(schedule, LearningRateSchedule) and type(schedule).__name__ in _CLASSES:
        return {"class_name": type(schedule).__name__, "config": schedule.get_config()}
    raise ValueError(
        f"Expected a built-in LearningRateSchedule to serialize, received: {type(schedule).__name__}"
    )


def deserialize(config):
    """The inverse of :func:`serialize`.

    >>> deserialize({"class_name": "CosineDecay", "config": {"initial_learning_rate": 1.0, "decay_steps": 4}})
    CosineDecay(initial_learning_rate=1.0, decay_steps=4.0, alpha=0.0, warmup_steps=0)
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f'Expected a dict with "class_name" and "config", received: {config!r}')
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Expected class_name in {sorted(_CLASSES)}, received: class_name={config['class_name']!r}"
        )
    return cls.from_config(dict(config.get("config") or {}))
