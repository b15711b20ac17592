"""The compiled training plan: a built, compiled ``Sequential`` run as whole steps in C.

:func:`compile_plan` turns a model into a :class:`Plan` (or returns None when the model uses
something the plan does not run, so the model keeps its per-layer Python path).
:meth:`Plan.train_chunk` then runs a chunk of mini-batch steps -- gather, forward, fused loss,
backward, one optimizer kernel per trainable run -- in one ``nogil`` call over buffers made
once (``csrc/nnf_mlp.c``), updating the model's own flat parameter buffer and the optimizer's
state arrays, so ``get_weights``, ``predict`` and ``save`` see the result. :meth:`Plan.predict`
is the forward pass in one call. :func:`compile_inference_plan` makes a plan that runs only that
forward pass, for a built model whether compiled or not (a loaded or hand-set model that only
serves ``predict``).

The plan computes exactly what the Python path computes (the same kernels called with the same
shapes, the same data order, the same dropout seeds drawn from the model's generator), so both
give the same bits on one thread count.

Supported: ``Dense`` (any activation; softmax fused into the loss or not; ``l1``, ``l2`` and
``l1_l2`` kernel and bias regularizers), ``Activation``, ``Dropout``, ``BatchNormalization``
(batch statistics and the moving update in training, the moving statistics in inference and
when frozen, as the layer) and ``LayerNormalization``; frozen layers (``trainable=False``);
losses ``sparse_categorical_crossentropy``
and ``categorical_crossentropy`` (softmax output or ``from_logits=True``, label smoothing),
``binary_crossentropy`` (sigmoid output or ``from_logits=True``, label smoothing), ``mse``,
``mae``, ``huber``; sample and class weights (the model folds them into one weight array);
optimizers ``SGD`` (momentum, Nesterov, weight decay), ``RMSprop``, ``Adam``, ``AdamW`` with
a float or a schedule as learning rate and ReduceLROnPlateau's ``lr_multiplier``, and their
gradient clipping (``clipnorm``, ``clipvalue``, ``global_clipnorm``; such a plan's steps run on
the serial path, not the thread team).

Not supported (``compile_plan`` returns None): custom layer classes (subclasses included),
custom regularizer classes on trainable layers, cross-entropies on probabilities (a categorical or binary
cross-entropy whose model output is not the matching softmax/sigmoid and not
``from_logits``), custom loss or optimizer classes.

>>> import numpy as np, nnfast as nf
>>> from nnfast._plan import compile_plan
>>> model = nf.Sequential([nf.layers.Dense(8, activation="relu"),
...                        nf.layers.Dense(3, activation="softmax")], input_dim=4, seed=0)
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
>>> model.build()
>>> plan = compile_plan(model, 16)
>>> X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
>>> y = np.arange(64) % 3
>>> losses = np.empty(4)
>>> plan.train_chunk(X, y, None, None, 0, 4, 16, plan.learning_rates(4), losses)
>>> model.optimizer.iterations
4
"""

import operator
import os
import weakref

import numpy as np

from nnfast import _blas, _threads
from nnfast import losses as losses_mod, optimizers as opt_mod, regularizers as reg_mod
from nnfast._kernels import step as _step
from nnfast._memory import aligned_zeros
from nnfast._ops._validate import labels_inside
from nnfast._ops.optim import GLOBAL_CLIP_EPS
from nnfast.layers import Activation, BatchNormalization, Dense, Dropout, LayerNormalization

__all__ = ["Plan", "compile_plan"]

# Codes shared with csrc/nnf_mlp.h (enums nnf_mlp_kind, nnf_mlp_loss, nnf_mlp_metric, nnf_mlp_opt)
_DENSE, _ACTIVATION, _DROPOUT, _BATCH_NORM, _LAYER_NORM = 0, 1, 2, 3, 4
_LAYERS = (Dense, Activation, Dropout, BatchNormalization, LayerNormalization)
_SPARSE_XENT, _CATEGORICAL_XENT, _SIGMOID_XENT, _MSE, _MAE, _HUBER = range(6)
_COUNT_NONE, _COUNT_ARGMAX_LABEL, _COUNT_ARGMAX_DENSE, _COUNT_SIGMOID, _COUNT_THRESHOLD = range(5)
_SGD, _RMSPROP, _ADAM = 0, 1, 2

# Activation codes of csrc/nnf_act.h.
_ACT_CODES = {name: code for code, name in enumerate((
    "linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "swish", "softplus",
    "softmax"))}
_LINEAR, _SOFTMAX = 0, 9
_NEEDS_INPUT = {"gelu", "swish"}

_PREDICT_CHUNK = 1024  # rows per forward pass in predict (the model's chunk)

# Threads for the plan's element-wise kernels, optimizer and gather. BLAS (at
# nnfast.set_num_threads threads) owns the cores: measured on 2 cores (784-256-128-10, float32,
# samples/s at batch 32 / 128 / 512), with spinning OpenMP workers: BLAS 2 + element-wise 1:
# 64.7k / 94.7k / 80.9k; BLAS 1 + element-wise 2: 42.4k / 58.0k / 53.8k; BLAS 2 + element-wise
# 2: 3.8k / 3.6k / 11.6k (the two pools fight over the cores). With OMP_WAIT_POLICY=PASSIVE
# (nnfast's default) element-wise 2 is still 0.78x / 0.92x / 0.96x of element-wise 1.
_ELEMENTWISE_THREADS = 1

# With more than one thread, a chunk can run in ONE OpenMP region whose threads each call a
# single-threaded GEMM on their share of every GEMM (csrc/nnf_mlp.c, mlp_train_team): one thread
# pool, never woken per kernel, its barriers spinning (nnf_barrier_wait). It needs threadpoolctl
# to hold the BLAS at one thread during the call. With nnfast's own float32 GEMM on AVX-512
# (nnfast._blas.own_sgemm_isa) it is the default: measured on 2 cores against the serial path
# with OpenBLAS's two threads (784-256-128-10, one process, interleaved) 1.39x / 1.24x at batch
# 32 / 128, within noise at 512. With the own GEMM's AVX2 kernel (measured on the AVX-512
# machine with both it and OpenBLAS held to AVX2: 1.15x / 1.0x / 0.94x; on an AMD Zen 3, where
# that kernel is off by default, 0.90x / 1.00x / 0.73x) and with only the BLAS (Zen 3: 1.10x /
# 1.01x / 0.82x; each thread's BLAS call packs all of A, a likely cause) it runs when the user
# asked for ACTIVE waiting.
# NNFAST_TEAM=0/1 overrides. It starts from _TEAM_MIN_WORK multiply-adds per step (batch x
# Dense weights).
_TEAM = {"0": False, "1": True}.get(os.environ.get("NNFAST_TEAM", "").strip())  # None: choose
_TEAM_ACTIVE = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "ACTIVE"


def _team_wanted():
    if _TEAM is not None:
        return _TEAM
    if not _threads.openmp_enabled():  # a serial build: the "team" would be one thread
        return False
    return _TEAM_ACTIVE or _blas.own_sgemm_isa() == "AVX-512"


_TEAM_MIN_WORK = 2_000_000

# ... and, when chosen by default, only while every Dense kernel is under _TEAM_MAX_KERNEL
# elements. Measured on 2 cores of an AMD EPYC (Zen 5, 1 MB L2 per core), team against serial,
# one process, interleaved epochs, medians of 5: 784-256-128-10 b128 / b512 / b2048 1.23x /
# 1.11x / 1.03x, 1024-256-256-10 b256 1.06x, 784-512-512-10 b256 1.03x, but 1024-512-512-10
# b256 0.94x and 2048-1024-1024-10 b128 / b256 / b512 0.91x / 0.83x / 0.85x: past ~2 MB of
# weights per layer OpenBLAS's two threads (which share their packed panels) beat two own
# GEMMs on column halves, whatever the batch. On the Intel Xeon (Sapphire Rapids, 2 MB L2) the
# team led there instead (2048-1024-1024-10 b128: 9,067 / 9,343 against 7,882 / 7,948 samples/s
# with OpenBLAS, two runs), so the limit applies on AMD CPUs only (None: no limit).
_TEAM_MAX_KERNEL_AMD = 1 << 19


def _cpu_vendor():
    """/proc/cpuinfo's vendor_id ("AuthenticAMD", "GenuineIntel"), or "" where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


_TEAM_MAX_KERNEL = _TEAM_MAX_KERNEL_AMD if _cpu_vendor() == "AuthenticAMD" else None


_INT_MAX = 2**31 - 1   # BLAS dimensions are 32-bit ints


def _loss_code(loss, mode):
    """``(code, param)`` of the fused loss, or None when the plan does not run it."""
    kind = type(loss)
    if mode in (losses_mod.FUSED, losses_mod.LOGITS):
        if kind is losses_mod.SparseCategoricalCrossentropy:
            return _SPARSE_XENT, 0.0
        if kind is losses_mod.CategoricalCrossentropy:
            return _CATEGORICAL_XENT, loss.label_smoothing
        if kind is losses_mod.BinaryCrossentropy:
            return _SIGMOID_XENT, loss.label_smoothing
        return None
    if mode != losses_mod.VALUES:
        return None
    if kind is losses_mod.MeanSquaredError:
        return _MSE, 0.0
    if kind is losses_mod.MeanAbsoluteError:
        return _MAE, 0.0
    if kind is losses_mod.Huber:
        return _HUBER, loss.delta
    return None


def _metric_code(model, loss_code, out_dim):
    """How the accuracy metric counts hits on the model's outputs (as ``nnfast.metrics`` does).

    The metrics read probabilities: the outputs through the model's link (the fused
    softmax/sigmoid, or the loss's for ``from_logits``) when they are logits. Softmax and
    sigmoid are monotone, so an argmax is taken on the logits directly (two logits whose
    probabilities round to the same value are the only case where the two argmaxes differ).
    """
    fused = getattr(model, "_fused", None)
    link = getattr(model, "_link", fused.activation if fused is not None else None)
    link = None if link is None else link.name
    if out_dim == 1:
        if loss_code == _SPARSE_XENT or link not in (None, "sigmoid"):
            return _COUNT_NONE
        return _COUNT_SIGMOID if link == "sigmoid" else _COUNT_THRESHOLD
    return _COUNT_ARGMAX_LABEL if loss_code == _SPARSE_XENT else _COUNT_ARGMAX_DENSE


_CLIP_NONE, _CLIP_NORM, _CLIP_VALUE, _CLIP_GLOBAL_NORM = range(4)  # csrc/nnf_mlp.h


# The optimizers the plan runs: their C code, the optimizer-state slots the update reads, and
# the attribute behind each nnf_mlp_plan field. One table for the spec and the layout key, so
# a setting the C update reads is always one the key watches.
_OPTIMIZERS = {
    opt_mod.Adam: (_ADAM, ("m", "v"), dict(beta_1="beta_1", beta_2="beta_2", epsilon="epsilon",
                                           weight_decay="weight_decay", decoupled="_decoupled")),
    opt_mod.SGD: (_SGD, ("momentum", None), dict(momentum="momentum", nesterov="nesterov",
                                                  weight_decay="weight_decay")),
    opt_mod.RMSprop: (_RMSPROP, ("square_avg", "momentum"),
                      dict(rho="rho", epsilon="epsilon", momentum="momentum",
                           weight_decay="weight_decay")),
}
_OPTIMIZERS[opt_mod.AdamW] = _OPTIMIZERS[opt_mod.Adam]
_CLIPS = ((_CLIP_NORM, "clipnorm"), (_CLIP_VALUE, "clipvalue"), (_CLIP_GLOBAL_NORM, "global_clipnorm"))

# Per optimizer class, every attribute its spec reads in one C-level getter (the layout key's,
# checked on every train_on_batch: building the spec cost 1.5 us there).
_OPTIMIZER_SETTINGS = {kind: operator.attrgetter(*(a for _, a in _CLIPS), *fields.values())
                       for kind, (_, _, fields) in _OPTIMIZERS.items()}


def _optimizer_spec(opt):
    """Scalars of the optimizer for the C plan and its state slots' names, or None when
    unsupported."""
    entry = _OPTIMIZERS.get(type(opt))
    if entry is None:
        return None
    code, slots, fields = entry
    spec = dict(beta_1=0.0, beta_2=0.0, epsilon=0.0, weight_decay=0.0, momentum=0.0, rho=0.0,
                nesterov=0, decoupled=0, clip=_CLIP_NONE, clip_max=0.0,
                clip_eps=GLOBAL_CLIP_EPS, opt=code)
    for clip, name in _CLIPS:
        value = getattr(opt, name)
        if value is not None:  # at most one is set (the optimizer checks)
            spec.update(clip=clip, clip_max=float(value))
    for field, name in fields.items():
        value = getattr(opt, name)
        spec[field] = int(value) if field in ("nesterov", "decoupled") else value
    return spec, slots


# What an inference plan tells C for its optimizer (never run: see Plan.__init__).
_INFERENCE_OPT = _optimizer_spec(opt_mod.SGD())

# Regularizer classes the plan runs (their strengths l1, l2; the base class adds nothing).
_REGULARIZERS = (reg_mod.Regularizer, reg_mod.L1L2, reg_mod.L1, reg_mod.L2)


def _strengths(regularizer):
    """``(l1, l2)`` of a built-in regularizer (or None: ``(0.0, 0.0)``); None for others."""
    if regularizer is None:
        return 0.0, 0.0
    if type(regularizer) not in _REGULARIZERS:
        return None
    return float(getattr(regularizer, "l1", 0.0)), float(getattr(regularizer, "l2", 0.0))


def _runs_forward(model, rows):
    """Whether the plan runs ``model``'s forward pass on ``rows`` rows: its layer classes, and
    dimensions within BLAS's 32-bit ints."""
    if any(type(layer) not in _LAYERS for layer in model._layers):
        return False
    widest = max([model.input_dim] + [layer.output_dim for layer in model._layers])
    return widest <= _INT_MAX and rows * widest <= _INT_MAX


def _supported_regularizers(model):
    """Whether every regularizer the model applies (those its trainable weight slots were built
    with) is one the plan runs."""
    layers = model._layers
    return all(_strengths(s.regularizer) is not None for s in model._store.slots
               if layers[s.layer].trainable)


def compile_plan(model, batch_size):
    """A :class:`Plan` running ``model``'s training steps in C, or None if unsupported.

    Parameters
    ----------
    model : Sequential
        Built and compiled.
    batch_size : int
        The largest batch the plan will run (its buffers hold this many rows).

    Returns
    -------
    Plan or None
        None when the model is not built or compiled, or uses a layer, loss, optimizer
        setting or regularizer the plan does not run (see the module docstring): the caller
        then keeps the per-layer Python path.

    Examples
    --------
    >>> import nnfast as nf
    >>> from nnfast._plan import compile_plan
    >>> model = nf.Sequential([nf.layers.Dense(1, activation="sigmoid")], input_dim=3)
    >>> model.compile("sgd", "binary_crossentropy")
    >>> compile_plan(model, 32) is None  # not built yet
    True
    >>> model.build()
    >>> compile_plan(model, 32) is not None
    True
    >>> model.compile(nf.optimizers.SGD(clipnorm=1.0), "binary_crossentropy")
    >>> compile_plan(model, 32) is not None  # gradient clipping runs in the plan too
    True
    >>> model.compile("sgd", nf.losses.BinaryCrossentropy(label_smoothing=0.1))
    >>> compile_plan(model, 32) is not None
    True
    """
    if not (getattr(model, "built", False) and getattr(model, "compiled", False)):
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"Expected batch_size >= 1, received: batch_size={batch_size!r}")
    if model._mode is None or not _runs_forward(model, int(batch_size)) \
            or not _supported_regularizers(model):
        return None
    loss = _loss_code(model.loss, model._mode)
    opt = _optimizer_spec(model.optimizer)
    if loss is None or opt is None:
        return None
    return Plan(model, int(batch_size), loss, opt)


def compile_inference_plan(model):
    """A :class:`Plan` that runs only ``model``'s forward pass (:meth:`Plan.predict`).

    Unlike :func:`compile_plan` it needs no compiled loss or optimizer, and it ignores the
    regularizers (which do not change a forward pass): every built model of the supported
    layers gets it, so a loaded or hand-built model serves ``predict`` in one C call.

    Returns
    -------
    Plan or None
        None when the model is not built or uses a layer the plan does not run.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> from nnfast._plan import compile_inference_plan
    >>> model = nf.Sequential([nf.layers.Dense(2, activation="softmax")], input_dim=3, seed=0)
    >>> model.build()
    >>> plan = compile_inference_plan(model)
    >>> X = np.ones((4, 3), np.float32)
    >>> np.allclose(plan.predict(X, np.empty((4, 2), np.float32)), model.predict(X))
    True
    """
    if not (getattr(model, "built", False) and _runs_forward(model, 1)):
        return None
    return Plan(model, 1, None, None)


class Plan:
    """A compiled model's training step and forward pass (made by :func:`compile_plan`).

    Attributes
    ----------
    batch_size : int
        The largest batch :meth:`train_chunk` accepts.
    counts_correct : bool
        Whether :meth:`train_chunk` can fill ``correct_out`` (the accuracy metric's hits).
    inference_only : bool
        Made by :func:`compile_inference_plan`: :meth:`predict` only.
    """

    def __init__(self, model, batch_size, loss, opt):
        # loss and opt None: an inference plan, described to C with a neutral loss and
        # optimizer (a one-row mse step with plain SGD that never runs)
        self.inference_only = opt is None
        if self.inference_only:
            loss, opt = (_MSE, 0.0), _INFERENCE_OPT
        self.model = model
        self.batch_size = batch_size
        self.dtype = model.dtype
        self._loss, self._param = loss
        self._opt, self._slot_names = opt
        self.out_dim = model.output_dim
        self.in_dim = model.input_dim
        self._metric = (_COUNT_NONE if self.inference_only
                        else _metric_code(model, self._loss, self.out_dim))
        self.counts_correct = self._metric != _COUNT_NONE
        self.sparse = self._loss == _SPARSE_XENT
        self._dropouts = [l for l in model._layers if type(l) is Dropout and l.rate > 0.0]
        self._seeds = np.zeros(1, np.uint64)
        self._labels_ok = None
        self._predict_rows = 0
        self._forward = self._trainer = None  # _step.Forward, _step.Trainer (rebound on change)
        self._key = None
        # per layer, the settings the C description reads from it (attrgetter: no missing
        # attribute looked up and caught on every call)
        self._layer_settings = [
            (layer, operator.attrgetter("trainable", *(a for a in ("epsilon", "momentum")
                                                       if hasattr(layer, a))))
            for layer in model._layers]
        self._store = model._store
        self._optimizer = None if self.inference_only else model.optimizer
        self._build_kernel()

    # --- layout --------------------------------------------------------------------------
    def _build_kernel(self):
        """Lay out the work buffer and describe every layer to C (again if trainable changed)."""
        model, cap = self.model, self.batch_size
        layers = model._layers
        if not self.inference_only:
            spec = _optimizer_spec(model.optimizer)
            if spec is None:
                raise ValueError("Expected optimizer settings the plan runs, received: "
                                 f"{type(model.optimizer).__name__} (call compile_plan again)")
            self._opt, self._slot_names = spec
        trainable = tuple(l.trainable for l in layers)
        store = model._store
        offsets = {(s.layer, s.name): s.lo for s in store.slots}
        regs = {(s.layer, s.name): s.regularizer for s in store.slots}
        state = {(s.layer, s.name): s.lo for s in store.state_slots}
        firsts = [i for i, l in enumerate(layers) if l.trainable and l.has_weights]
        first = firsts[0] if firsts else len(layers)
        fused = None if self.inference_only else model._fused
        pos = 0

        def take(size):
            nonlocal pos
            at = pos
            pos += size
            return at

        kernels = [l.input_dim * l.output_dim for l in layers if type(l) is Dense]
        self._n_weights = sum(kernels)
        self._largest_kernel = max(kernels, default=0)
        plan = dict(cap=cap, in_dim=self.in_dim, out_dim=self.out_dim, loss=self._loss,
                    loss_param=float(self._param), metric=self._metric, **self._opt)
        plan["xbuf"] = take(cap * self.in_dim)
        plan["tbuf"] = take(cap * self.out_dim)
        plan["wbuf"] = take(cap)
        descs, widest = [], max(self.in_dim, self.out_dim)
        for i, layer in enumerate(layers):
            d_in, d_out = layer.input_dim, layer.output_dim
            widest = max(widest, d_in, d_out)
            name = getattr(layer, "activation", None)
            name = "linear" if name is None else name.name
            act = _LINEAR if layer is fused else _ACT_CODES[name]
            desc = dict(kind=_DENSE, act=act, act_infer=_ACT_CODES[name], keeps_z=0,
                        grad=0, backward=int(i >= first), dx=int(i > first), **{"in": d_in},
                        out=d_out, w=-1, b=-1, y=take(cap * d_out), dy=take(cap * d_out), z=-1,
                        mask=-1, rate=0.0, kernel_l1=0.0, kernel_l2=0.0, bias_l1=0.0, bias_l2=0.0,
                        batch_stats=0, stats=-1, moving_mean=-1, moving_var=-1, epsilon=0.0,
                        momentum=0.0)
            kind = type(layer)
            if kind is Dense:
                keeps_z = name in _NEEDS_INPUT or name == "softmax"
                desc.update(keeps_z=int(keeps_z), grad=int(layer.trainable and i >= first),
                            w=offsets[(i, "kernel")],
                            b=offsets[(i, "bias")] if layer.use_bias else -1)
                if layer.trainable and not self.inference_only:
                    # (a frozen layer's regularizers add nothing: model._regs)
                    for weight in ("kernel", "bias") if layer.use_bias else ("kernel",):
                        strengths = _strengths(regs[(i, weight)])
                        if strengths is None:
                            raise ValueError(f"Expected built-in regularizers on trainable layers, "
                                             f"received: {regs[(i, weight)]!r} on layer {i} "
                                             "(made trainable after compile_plan?)")
                        desc[weight + "_l1"], desc[weight + "_l2"] = strengths
                if keeps_z:
                    desc["z"] = take(cap * d_out)
            elif kind is Activation:
                desc["kind"] = _ACTIVATION
            elif kind in (BatchNormalization, LayerNormalization):
                # gamma, beta in the flat buffer (as a Dense kernel, bias); scratch for the
                # statistics (BN: per column, LN: per row) and a frozen layer's dx scale/grads
                desc.update(act=_LINEAR, act_infer=_LINEAR, grad=int(layer.trainable and i >= first),
                            w=offsets[(i, "gamma")], b=offsets[(i, "beta")],
                            epsilon=layer.epsilon)
                if kind is BatchNormalization:
                    desc.update(kind=_BATCH_NORM, batch_stats=int(layer.trainable),
                                momentum=layer.momentum, stats=take(5 * d_out),
                                moving_mean=state[(i, "moving_mean")],
                                moving_var=state[(i, "moving_variance")])
                else:
                    desc.update(kind=_LAYER_NORM, stats=take(2 * cap + 2 * d_out))
            else:
                desc.update(kind=_DROPOUT, act=_LINEAR, act_infer=_LINEAR, rate=layer.rate,
                            mask=take(cap * d_in))
            descs.append(desc)
        self._widest = plan["widest"] = widest
        self._last_y = descs[-1]["y"]
        self._clips = plan["clip"] != _CLIP_NONE
        self._kernel = _step.MLPKernel(descs, plan,
                                       [tuple(r) for r in store.trainable_runs(trainable)],
                                       [(s.lo, s.hi) for s in store.trainable_slots(trainable)])
        self._forward = self._trainer = None  # (bound to the kernel and buffers: rebound)
        self._work = aligned_zeros(max(1, pos), self.dtype)
        self._dscratch = np.zeros(self._dscratch_size(1), np.float64)
        self._lbuf = np.zeros(cap, np.intp)
        self._key = self._layout_key()
        self._norms = [l for l in layers if hasattr(l, "epsilon")]
        self._key_norms = self._norm_key()

    def _layout_key(self):
        """What the C description depends on besides the model's shape: which layers are
        trainable, the norm layers' epsilon and momentum, the regularizers' strengths and the
        optimizer's settings (mutable: the scikit-learn estimators set strengths and AdamW's
        weight decay before each training call)."""
        model = self.model
        if self.inference_only:
            return None  # (the norm layers' epsilon: _key_norms, checked by predict)
        settings = _OPTIMIZER_SETTINGS.get(type(model.optimizer))
        return (tuple([get(layer) for layer, get in self._layer_settings]),
                tuple([_strengths(s.regularizer) for s in model._store.slots]),
                None if settings is None else settings(model.optimizer))

    def _norm_key(self):
        return tuple(l.epsilon for l in self._norms)

    # --- training ------------------------------------------------------------------------
    def learning_rates(self, n_steps, out=None):
        """The optimizer's learning rate for each of the next ``n_steps`` updates (float64).

        ``lr(iterations + s) · lr_multiplier`` for a schedule, the float times the multiplier
        otherwise: what ``Optimizer.current_learning_rate`` would return before each step.
        """
        opt = self.model.optimizer
        out = np.empty(n_steps, np.float64) if out is None else out
        lr, mult, it = opt.learning_rate, opt.lr_multiplier, opt.iterations
        if isinstance(lr, float):
            out[:n_steps] = lr * mult
        else:
            for s in range(n_steps):
                out[s] = opt_mod.scheduled_lr(lr, it + s) * mult
        return out

    def _dscratch_size(self, nthreads):
        """Doubles of C scratch (nnf_mlp.h): per-thread bias-gradient scratch, then the team's
        loss block sums (16 rows each) and correct counts."""
        return 2 * self._widest * nthreads + -(-self.batch_size // 16) + nthreads

    def _state(self, name):
        if name is None:
            return None
        return self.model.optimizer.slots.get(name)

    def train_chunk(self, X, T, W, order, start_step, n_steps, batch_size, lrs, losses_out,
                    correct_out=None, outputs_out=None):
        """Run ``n_steps`` training steps (batches ``start_step ... start_step + n_steps - 1``).

        Batch ``b`` is rows ``order[b·batch_size : min(n, (b+1)·batch_size)]`` of the data (rows
        ``b·batch_size ...`` of ``X`` itself when ``order`` is None), exactly as
        ``Sequential.fit`` slices an epoch. Each step updates the model's flat parameter
        buffer and the optimizer's state in place; ``optimizer.iterations`` advances by
        ``n_steps`` and the Dropout layers draw their seeds from their generator as the
        per-layer path does.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
            C-contiguous, the model's dtype (as ``Sequential._data`` returns it).
        T : ndarray
            The loss targets as ``Sequential._data`` returns them: integer labels ``(n,)``
            (intp, already checked against the class count) for sparse categorical
            cross-entropy, else ``(n, output_dim)`` C-contiguous in the model's dtype.
        W : ndarray of shape (n,) or None
            Sample weights in the model's dtype (None: all ones).
        order : ndarray of shape (n,) of int64, or None
            The epoch's permutation of the rows (None: in order, no gather copy).
        start_step : int
            Index of the first batch of this chunk within the epoch.
        n_steps : int
            Number of batches to run (every one must start inside the data).
        batch_size : int
            At most the plan's ``batch_size``.
        lrs : ndarray of shape (n_steps,), float64
            The learning rate of each step (see :meth:`learning_rates`).
        losses_out : ndarray of shape (>= n_steps,), float64
            Receives each batch's mean loss (before its update).
        correct_out : ndarray of shape (>= n_steps,), float64, optional
            Receives each batch's count of correct predictions (the accuracy metric's hits,
            unweighted); only when :attr:`counts_correct`.
        outputs_out : ndarray of shape (>= rows, output_dim), optional
            C-contiguous, the model's dtype; receives the chunk's rows' last-layer outputs of
            the training forward, batch after batch (what :meth:`last_outputs` shows for one
            step), for metrics computed in Python.
        """
        self._check_current()
        n = X.shape[0]
        if X.dtype != self.dtype or X.ndim != 2 or X.shape[1] != self.in_dim:
            raise ValueError(f"Expected X of shape (n, {self.in_dim}) and dtype {self.dtype}, "
                             f"received: X.shape={X.shape}, dtype {X.dtype}")
        if not 1 <= batch_size <= self.batch_size:
            raise ValueError(f"Expected batch_size in [1, {self.batch_size}], received: "
                             f"batch_size={batch_size}")
        lo, hi = start_step * batch_size, min(n, (start_step + n_steps) * batch_size)
        if n_steps < 1 or start_step < 0 or (start_step + n_steps - 1) * batch_size >= n:
            raise ValueError(f"Expected batches inside the {n} rows, received: start_step="
                             f"{start_step}, n_steps={n_steps}, batch_size={batch_size}")
        if lrs.shape[0] < n_steps or losses_out.shape[0] < n_steps:
            raise ValueError(f"Expected lrs and losses_out with at least {n_steps} entries")
        T, labels = self._targets(T, n)
        if W is not None and W.shape != (n,):
            raise ValueError(f"Expected W of shape ({n},), received: {W.shape}")
        if order is not None:
            if order.shape != (n,):
                raise ValueError(f"Expected order of shape ({n},), received: {order.shape}")
            used = order[lo:hi]
            if used.min() < 0 or used.max() >= n:
                raise ValueError(f"Expected order to hold row indices in [0, {n})")
        if correct_out is not None and (not self.counts_correct or correct_out.shape[0] < n_steps):
            raise ValueError("Expected correct_out only when the plan counts correct predictions, "
                             f"with at least {n_steps} entries")
        outs = None
        if outputs_out is not None:
            if (type(outputs_out) is not np.ndarray or outputs_out.dtype != self.dtype
                    or outputs_out.ndim != 2 or outputs_out.shape[1] != self.out_dim
                    or outputs_out.shape[0] < hi - lo or not outputs_out.flags.c_contiguous
                    or not outputs_out.flags.writeable):
                raise ValueError(f"Expected outputs_out: a writable C-contiguous {self.dtype} "
                                 f"array of at least ({hi - lo}, {self.out_dim}), received: "
                                 f"{getattr(outputs_out, 'shape', outputs_out)!r}")
            outs = outputs_out.reshape(-1)
        self._steps(X, T, labels, W, order, start_step, n_steps, batch_size, lrs, losses_out,
                    correct_out, outs)

    def _steps(self, X, T, labels, W, order, start_step, n_steps, batch_size, lrs, losses_out,
               correct_out, outs):
        """:meth:`train_chunk` after its argument checks (``T``: the dense targets or None,
        ``labels``: the integer labels or None): the kernel rebuilt if a setting it reads
        changed, then the steps in one C call. ``Sequential.train_on_batch`` comes here
        directly with the arrays its own checks made (``_data``) and a plan that
        ``_training_plan`` has just matched to the model's weights and optimizer."""
        if self._layout_key() != self._key:
            self._build_kernel()
        seeds = self._draw_seeds(n_steps)
        opt = self.model.optimizer
        store = self._store
        nthreads = _threads.num_threads()
        team = nthreads > 1 and self._team_pays(batch_size)
        blas = _threads.serial_blas(True) if team else None  # (None: the team cannot run)
        nthreads = nthreads if blas is not None else _ELEMENTWISE_THREADS
        if self._dscratch.shape[0] < self._dscratch_size(nthreads):
            self._dscratch = np.zeros(self._dscratch_size(nthreads), np.float64)
            self._trainer = None
        trainer = self._trainer_for(store)
        try:
            status = trainer(X, T, labels, W, order, batch_size, start_step, n_steps,
                             opt.iterations, lrs, seeds, losses_out, correct_out, nthreads, outs)
        finally:
            if blas is not None:
                blas.release()
        opt.iterations += n_steps
        if status != 0:
            raise MemoryError("train_chunk: the loss kernel could not allocate its scratch")

    def _targets(self, T, n):
        """``(dense targets, labels)`` of ``n`` rows' targets as :meth:`train_chunk` takes them
        (one of the two None), checked; labels' range once per array (fit's epochs reuse it)."""
        if not self.sparse:
            if T.shape != (n, self.out_dim):
                raise ValueError(f"Expected T of shape ({n}, {self.out_dim}), received: {T.shape}")
            return T, None
        if T.shape != (n,):
            raise ValueError(f"Expected labels of shape ({n},), received: {T.shape}")
        if self._labels_ok is None or self._labels_ok() is not T:
            if T.dtype != np.intp or not labels_inside(T, self.out_dim):
                raise ValueError(f"Expected intp labels in [0, {self.out_dim})")
            self._labels_ok = weakref.ref(T)
        return None, T

    def _trainer_for(self, store):
        """The ``_step.Trainer`` of the kernel and buffers, (re)bound when the store's arrays or
        the optimizer's state arrays were replaced."""
        s1, s2 = self._state(self._slot_names[0]), self._state(self._slot_names[1])
        trainer = self._trainer
        if (trainer is None or trainer.params is not store.params
                or trainer.grads is not store.grads or trainer.state is not store.state
                or trainer.s1 is not s1 or trainer.s2 is not s2):
            trainer = self._trainer = _step.Trainer(self._kernel, store.params, store.grads,
                                                    store.state, s1, s2, self._work,
                                                    self._dscratch, self._lbuf)
        return trainer

    def _team_pays(self, batch_size):
        """Whether a chunk of ``batch_size`` steps runs on the thread team (see _TEAM_MIN_WORK)."""
        if batch_size * self._n_weights < _TEAM_MIN_WORK or self._clips or not _team_wanted():
            return False  # (clipping's norms are not in the team's steps: serial path)
        return (_TEAM is not None or _TEAM_MAX_KERNEL is None
                or self._largest_kernel < _TEAM_MAX_KERNEL)

    def last_outputs(self, rows):
        """The last layer's outputs (training mode) of the latest step, as a (rows, out) view.

        What the per-layer path leaves in its last activation buffer: logits when the softmax
        or sigmoid is fused into the loss. Valid until the next :meth:`train_chunk`.
        """
        off = self._last_y
        return self._work[off:off + rows * self.out_dim].reshape(rows, self.out_dim)

    def _check_current(self):
        """That this training plan still runs its model: the same weights, the same optimizer
        (a callback may have built or compiled the model again between chunks)."""
        if self.inference_only:
            raise ValueError("Expected a training plan (compile_plan), received: an inference "
                             "plan (compile_inference_plan), which only predicts")
        self._check_model()
        if self.model.optimizer is not self._optimizer:
            raise ValueError("Expected the optimizer the plan was compiled for, received: a model "
                             "compiled again (call compile_plan again)")

    def _check_model(self):
        if self.model._store is not self._store:
            raise ValueError("Expected the weights the plan was compiled for, received: a model "
                             "built again (layers added?); call compile_plan again")

    def _draw_seeds(self, n_steps):
        """One seed per step and active Dropout layer, in the per-layer path's draw order."""
        drops = self._dropouts
        if not drops:
            return None
        need = n_steps * len(drops)
        if self._seeds.shape[0] < need:
            self._seeds = np.zeros(need, np.uint64)
        seeds, j = self._seeds, 0
        for _ in range(n_steps):
            for layer in drops:
                seeds[j] = int(layer.rng.integers(0, 2**63))
                j += 1
        return seeds

    # --- inference -----------------------------------------------------------------------
    def predict(self, X, out, check_finite=False, logits=False):
        """``out := model.predict(X)``: the forward pass in inference mode, in one call.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim), n >= 1
            C-contiguous, the model's dtype.
        out : ndarray of shape (n, output_dim)
            C-contiguous, the model's dtype; receives the output activations.
        check_finite : bool
            Check X for NaN and infinity first, in the same C call.
        logits : bool
            Leave out the last layer's activation: the logits that the model's loss reads when
            it fuses that activation (``evaluate``).

        Returns
        -------
        ndarray or None
            ``out``; None, with ``out`` untouched, when ``check_finite`` found X not finite.
        """
        forward, n = self.serving_forward(), X.shape[0]
        if not (forward is not None and 0 < n <= self._predict_rows and X.shape[1] == self.in_dim
                and out.shape[0] == n and out.shape[1] == self.out_dim):
            forward = self._bind_forward(X, out)  # a warm call skips this
        return forward(X, out, check_finite, logits)

    def evaluate(self, X, T, W, out, grad, logits, count):
        """The loss (and the correct count) of a chunk of ``Sequential.evaluate``, in one call.

        ``X`` (m, input_dim), ``T`` and ``W`` as :meth:`train_chunk` takes them; the outputs of
        the inference forward pass (logits with ``logits``: the loss fuses the last activation)
        are left in ``out`` and the loss's gradient in ``grad``, both (m, output_dim)
        C-contiguous in the model's dtype. Returns ``(mean loss, count)``: the loss as a
        training step computes it (no regularization penalty), the accuracy metric's hits
        when ``count`` (:attr:`counts_correct`), else None.
        """
        if self.inference_only:
            raise ValueError("Expected a training plan (compile_plan), received: an inference "
                             "plan, which has no loss")
        m = X.shape[0]
        if not (X.ndim == 2 and m and X.shape[1] == self.in_dim and out.shape == (m, self.out_dim)
                and grad.shape == out.shape and (W is None or W.shape == (m,))):
            raise ValueError(f"Expected X (m >= 1, {self.in_dim}), out and grad (m, "
                             f"{self.out_dim}) and W (m,), received: X.shape={X.shape}, "
                             f"out.shape={out.shape}, grad.shape={grad.shape}")
        T, labels = self._targets(T, m)
        if count and not self.counts_correct:
            raise ValueError("Expected count only when the plan counts correct predictions")
        forward = self.serving_forward()
        if forward is None or m > self._predict_rows:
            forward = self._bind_forward(X, out)
        return forward.evaluate(X, T, labels, W, out, grad, logits, count)

    def serving_forward(self):
        """The bound ``_step.Forward`` when it runs the model's current weights and settings
        (``model.predict`` calls its ``serve``), else None (:meth:`predict` binds one)."""
        forward, store = self._forward, self.model._store
        if (forward is not None and not self._norms and store is self._store
                and forward.params is store.params and forward.state is store.state):
            return forward
        return None

    def _bind_forward(self, X, out):
        """The checks and buffers of :meth:`predict`: the ``_step.Forward`` for ``X`` and
        ``out``, (re)bound when the weights, the norm settings or the batch size changed."""
        self._check_model()
        # Inference reads only the norm layers' epsilon from the settings in _layout_key
        # (trainable, regularizers and the optimizer do not change a forward pass): 5 us of
        # the ~25 us of a batch-1 predict when checked in full.
        if self._norms and self._norm_key() != self._key_norms:
            self._build_kernel()
        n = X.shape[0]
        rows = n if n < _PREDICT_CHUNK else _PREDICT_CHUNK
        if rows > self._predict_rows:
            size = rows * self._widest
            self._pa, self._pb, self._pz = (aligned_zeros(size, self.dtype) for _ in range(3))
            self._ps = np.empty(2 * rows, self.dtype)  # layer norm's row statistics
            self._predict_rows = rows
            self._forward = None
        if X.shape[1] != self.in_dim or out.shape[0] != n or out.shape[1] != self.out_dim \
                or n < 1:
            raise ValueError(f"Expected X (n >= 1, {self.in_dim}) and out (n, {self.out_dim}), "
                             f"received: X.shape={X.shape}, out.shape={out.shape}")
        store = self.model._store
        forward = self._forward
        if forward is None or forward.params is not store.params \
                or forward.state is not store.state:
            forward = self._forward = _step.Forward(self._kernel, store.params, store.state,
                                                    self._pa, self._pb, self._pz, self._ps,
                                                    self._predict_rows)
        return forward
