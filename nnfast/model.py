"""``Sequential``: a stack of layers with compile / fit / evaluate / predict / save.

The model is a list of layer *descriptions* whose weights live in one flat buffer
(:mod:`nnfast._params`); activation and gradient buffers are allocated once for the largest batch
and reused (a smaller last batch uses their first rows). A training step is: gather the batch
rows into a preallocated buffer, forward layer by layer, the loss kernel (fused with the output
softmax/sigmoid when possible) giving the output gradient, backward layer by layer, regularizer
gradients, then one optimizer kernel call over the flat buffer.

>>> import numpy as np, nnfast as nf
>>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
>>> model = nf.Sequential([nf.layers.Dense(8, activation="relu"),
...                        nf.layers.Dense(1, activation="sigmoid")], seed=0)
>>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
>>> history = model.fit(X, y, epochs=2, batch_size=16, verbose=0)
>>> sorted(history.history)
['accuracy', 'loss', 'lr']
"""

import copy
import functools
import numbers
import re
import threading

import numpy as np

from nnfast import activations as activations_mod, losses as losses_mod
from nnfast import metrics as metrics_mod, optimizers as optimizers_mod
from nnfast._ops._validate import all_finite as _all_finite, as_array as _as_array
from nnfast._ops._validate import not_finite as _not_finite
from nnfast._ops.norm import shuffled_range as _shuffled_range
from nnfast._params import ParamStore
from nnfast.layers import Layer

__all__ = ["Sequential"]

_FLOATS = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
_PREDICT_CHUNK = 1024


def _int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an integer, received: {name}={value!r}")
    if value < low:
        raise ValueError(f"Expected {name} >= {low}, received: {name}={value!r}")
    return int(value)


def _check_verbose(verbose):
    """0, 1 or 2 (a bool counts as 0 or 1, as in Keras)."""
    if not isinstance(verbose, (numbers.Integral, np.bool_)) or verbose not in (0, 1, 2):
        raise ValueError(f"Expected verbose in (0, 1, 2), received: verbose={verbose!r}")


def _serialized(method):
    """Run ``method`` holding the model's lock: training and inference share the model's
    activation buffers and the plan's scratch memory, so two threads using one model take
    turns (a callback calling ``predict`` inside ``fit`` re-enters: the lock is an RLock)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


@functools.lru_cache(maxsize=None)
def _snake(name):
    """A layer class's default name, "BatchNormalization" -> "batch_normalization" (cached:
    the regular expression was ~10 us of every ``add``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Sequential:
    """A linear stack of layers, trained with mini-batch gradient descent.

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, first to last. More can be added with :meth:`add`.
    input_dim : int, optional
        Number of input features. Defaults to None: inferred at the first ``fit``.
    dtype : {"float32", "float64"}
        The dtype of every weight, buffer and computation. Defaults to "float32".
    seed : int, optional
        Seeds the generator behind weight initialization, shuffling and dropout: the same seed
        gives bit-identical results on one thread count. Defaults to None (fresh entropy).

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> model = nf.Sequential([nf.layers.Dense(4, activation="relu"), nf.layers.Dense(2)],
    ...                       input_dim=3, seed=0)
    >>> model.count_params()
    26
    >>> model.predict(np.zeros((1, 3))).shape
    (1, 2)
    """

    def __init__(self, layers=None, *, input_dim=None, dtype="float32", seed=None, name=None):
        try:
            key = np.dtype(dtype).name if dtype is not None else None
        except TypeError:
            key = None
        if key not in _FLOATS:
            raise ValueError(f"Expected dtype to be 'float32' or 'float64', received: dtype={dtype!r}")
        self.dtype = _FLOATS[key]
        self.input_dim = None if input_dim is None else _int(input_dim, "input_dim", 1)
        if seed is not None:
            seed = _int(seed, "seed", 0)
        self.seed, self.name = seed, name or "sequential"
        self._rng = np.random.default_rng(seed)
        self._layers, self.built, self.compiled = [], False, False
        self.optimizer = self.loss = None
        self.metrics, self._val_metrics = [], []
        self.stop_training, self.history = False, None
        self.metadata = {}  # JSON-serializable user data saved with the model
        self._cap, self._step_key, self._pending = 0, None, None
        self._plan, self._use_plan = None, True  # the compiled plan (nnfast._plan), made lazily
        self._inference_plan = None  # predict's plan when there is no training plan
        self._one_step = (np.empty(1), np.empty(1))  # train_on_batch's learning rate and loss
        self._fused = self._mode = None
        self._lock = threading.RLock()
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"Expected layers to be a list of nnfast.layers.Layer, received: "
                            f"layers={layers!r}")
        for layer in [] if layers is None else list(layers):
            self.add(layer)

    def __getstate__(self):  # copy.deepcopy: a lock is not copied, each copy gets its own
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # --- structure ---------------------------------------------------------------------
    @property
    def layers(self):
        """The layers, first to last (a new list)."""
        return list(self._layers)

    def add(self, layer):
        """Append a layer (a model already built keeps the weights of its earlier layers)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Expected an nnfast.layers.Layer, received: layer={layer!r}")
        if any(layer is other for other in self._layers):
            raise ValueError(f"Expected a new layer, received: layer {layer.name!r} already in the model")
        names = {other.name for other in self._layers}
        if layer.name is None:
            base, k = _snake(type(layer).__name__), 0
            layer.name = base
            while layer.name in names:
                k += 1
                layer.name = f"{base}_{k}"
        elif layer.name in names:
            raise ValueError(f"Expected unique layer names, received: a second layer {layer.name!r}")
        if self.built:
            self._pending = self.get_weights()
            self.built = False
        self._layers.append(layer)

    def build(self, input_dim=None):
        """Create every weight: declare shapes layer by layer, lay them out, initialize."""
        if input_dim is not None:
            input_dim = _int(input_dim, "input_dim", 1)
            if self.input_dim is not None and input_dim != self.input_dim:
                raise ValueError(f"Expected input_dim={self.input_dim}, received: input_dim={input_dim}")
            self.input_dim = input_dim
        if self.input_dim is None:
            raise ValueError("This model has not been built yet: expected input_dim (give it to "
                             "Sequential(..., input_dim=...) or call fit first), received: None")
        if not self._layers:
            raise ValueError("Expected at least one layer (use add), received: an empty model")
        dim = self.input_dim
        for layer in self._layers:
            dim = layer.build(dim, self.dtype)
            if hasattr(layer, "rng"):
                layer.rng = self._rng
        self.output_dim = dim
        store = ParamStore(self.dtype)
        n = len(self._layers)
        params = store.build([l.weight_specs() for l in self._layers],
                             [l.state_specs() for l in self._layers])
        for layer, p, g, s in zip(self._layers, params, store.grad_views(n), store.state_views(n)):
            layer.bind(p, g, s)
            for spec in layer.weight_specs():
                value = np.asarray(spec.initializer(spec.shape, self.dtype, self._rng))
                if value.shape != p[spec.name].shape:
                    raise ValueError(f"Expected the initializer of {layer.name}.{spec.name} to "
                                     f"return shape {spec.shape}, received: {value.shape}")
                np.copyto(p[spec.name], value)
        self._store, self.built, self._cap, self._step_key = store, True, 0, None
        pending, self._pending = self._pending, None
        if pending:
            self._set_arrays(pending, partial=True)
        if self.compiled:
            self._setup_training()

    def _ensure_built(self, what):
        if not self.built:
            if self.input_dim is None:
                raise ValueError(f"Expected a built model for {what}: this model has not been built "
                                 "yet (give input_dim to Sequential or call fit first)")
            self.build()

    # --- compile -----------------------------------------------------------------------
    def compile(self, optimizer, loss, metrics=None):
        """Choose the optimizer, the loss and the metrics.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``"sgd"``, ``"rmsprop"``, ``"adam"``, ``"adamw"`` or an :mod:`nnfast.optimizers` object.
        loss : str or Loss
            A name of :data:`nnfast.losses.NAMES` or an :mod:`nnfast.losses` object.
        metrics : list, optional
            Names (``"accuracy"``, ``"auc"``, ...) or :mod:`nnfast.metrics` objects.
        """
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_mod.Metric)):
            metrics = [metrics]
        if not isinstance(metrics, (list, tuple)):
            raise TypeError(f"Expected metrics to be a list of names or Metric objects, received: {metrics!r}")
        self.metrics = [metrics_mod.get(m) for m in metrics]
        self._val_metrics = [copy.deepcopy(m) for m in self.metrics]
        self.compiled = True
        self.optimizer_built_for = None
        if self.built:
            self._setup_training()

    def _setup_training(self):
        """Resolve the loss mode (fused softmax/sigmoid?) and give the optimizer its state."""
        last = self._layers[-1]
        act = getattr(last, "activation", None)
        self._mode = self.loss.mode(None if act is None else act.name)
        for layer in self._layers:
            if hasattr(layer, "emit_logits"):
                layer.emit_logits = False
        self._fused = last if self._mode == losses_mod.FUSED else None
        # Metrics read probabilities: the fused activation, or the loss's link for logits.
        self._link = None
        if self._fused is not None:
            self._link = self._fused.activation
        elif self._mode == losses_mod.LOGITS:
            self._link = activations_mod.get(self.loss.fusable)
        if getattr(self, "optimizer_built_for", None) is not self._store:
            self.optimizer.build(self._store.size, self.dtype)
            self.optimizer_built_for = self._store
        self._step_key, self._cap, self._plan = None, 0, None

    def _training_plan(self, batch_size):
        """The compiled plan for batches of up to ``batch_size`` rows, or None when the model
        uses something it does not run (the per-layer path then trains)."""
        if not self._use_plan:
            return None
        plan = self._plan
        if plan is None or plan.batch_size < batch_size or plan._store is not self._store \
                or plan._optimizer is not self.optimizer:  # (same object: settings it runs)
            from nnfast._plan import compile_plan

            plan = self._plan = compile_plan(self, batch_size)
        return plan

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"Expected a compiled model for {what}: call "
                             "model.compile(optimizer, loss) first")

    # --- data --------------------------------------------------------------------------
    def _inputs(self, X, name="X", threads=1):
        # The finite check runs on one thread by default: BLAS's threads run right after it,
        # beside which an OpenMP team gains nothing (1024 x 784 floats: ~34 us on one thread or
        # two) and, where its workers spin (see nnfast._openmp_env), costs a lot (predict at
        # batch 1024 measured 6.5x slower with torch's libgomp). fit passes threads=None
        # (nnfast's count): its training team runs next, on the same OpenMP threads.
        if type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.shape[0] \
                and X.shape[1] == self.input_dim and X.flags.c_contiguous \
                and _all_finite(X, threads=threads):
            # The common case without a copy or a temporary: ~1 us for a batch-1 predict.
            return X
        if X is None:
            raise TypeError(f"Expected {name} to be an array of shape (n_samples, n_features), received: None")
        try:
            X = _as_array(X)  # (a DataFrame through its to_numpy: 75 -> 3 us for one row)
        except (ValueError, TypeError) as exc:  # a ragged list, say
            raise ValueError(f"Expected {name} to be an array of shape (n_samples, n_features), "
                             f"received: {type(X).__name__} that is not one ({exc})") from None
        if X.dtype.kind not in "fiub":
            raise TypeError(f"Expected {name} to hold numbers, received: {name} with dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(f"Expected {name} to be 2-D (n_samples, n_features), received: "
                             f"{name}.shape={X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"Expected at least one sample in {name}, received: {name}.shape={X.shape}")
        dim = self.input_dim
        if dim is not None and X.shape[1] != dim:
            raise ValueError(f"Expected {name} with {dim} features (input_dim), received: "
                             f"{name}.shape={X.shape}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not _all_finite(X, threads=threads):
            raise _not_finite(name)
        return X

    def _data(self, X, y, sample_weight=None, class_weight=None, name="X", y_name="y",
              threads=1):
        """``(X, loss_targets, metric_targets, weights)`` validated and converted (X's finite
        check on ``threads`` threads, as for :meth:`_inputs`)."""
        X = self._inputs(X, name, threads)
        if y is None:
            raise TypeError(f"Expected {y_name} to be an array of targets, received: {y_name}=None")
        y_arr = _as_array(y)
        if y_arr.ndim == 0 or y_arr.shape[0] != X.shape[0]:
            raise ValueError(f"Expected {name} and {y_name} with the same number of samples, received: "
                             f"{name}.shape={X.shape}, {y_name}.shape={y_arr.shape}")
        if not self.built:
            self.build(X.shape[1])
        t_loss, t_metric = self.loss.prepare_targets(y_arr, self.output_dim, self.dtype, self._mode, y_name)
        w = None
        if sample_weight is not None:
            try:
                w = np.asarray(sample_weight, dtype=np.float64)
            except (ValueError, TypeError):
                raise TypeError("Expected sample_weight to be an array of real numbers, "
                                f"received: {sample_weight!r:.80}") from None
            if w.ndim == 2 and w.shape[1] == 1:
                w = w[:, 0]
            if w.shape != (X.shape[0],):
                raise ValueError(f"Expected sample_weight of shape ({X.shape[0]},), received: "
                                 f"sample_weight.shape={w.shape}")
            if not np.isfinite(w).all() or (w < 0).any():
                raise ValueError("Expected sample_weight to be finite and >= 0, received: "
                                 "negative, NaN or inf values")
        if class_weight is not None:
            w = self._class_weights(class_weight, t_metric, w)
        elif w is not None:
            w = np.ascontiguousarray(w, dtype=self.dtype)
        return X, t_loss, t_metric, w

    def _class_weights(self, class_weight, t_metric, w):
        """``w`` (None: ones) times each row's ``class_weight`` (classes not named: 1), in the
        model's dtype."""
        if not isinstance(class_weight, dict):
            raise TypeError(f"Expected class_weight to be a dict {{class: weight}}, received: {class_weight!r}")
        n_classes = max(self.output_dim, 2)  # a single output's classes are 0 and 1
        table = np.ones(n_classes, np.float64)
        for c, cw in class_weight.items():
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Integral) \
                    or not 0 <= c < n_classes:
                raise ValueError(f"Expected class_weight keys to be classes in [0, {n_classes}), "
                                 f"received: class_weight key {c!r}")
            if isinstance(cw, bool) or not isinstance(cw, numbers.Real) or not cw >= 0:
                raise ValueError(f"Expected class_weight values >= 0, received: class_weight[{c}]={cw!r}")
            table[int(c)] = cw
        if t_metric.ndim == 1:
            cls = t_metric
        elif t_metric.shape[1] == 1:
            cls = (t_metric[:, 0] > 0.5).astype(np.intp)
        else:
            cls = np.argmax(t_metric, axis=1)
        cw = table[cls]
        return np.ascontiguousarray(cw if w is None else w * cw, dtype=self.dtype)

    # --- buffers and the step ------------------------------------------------------------
    def _ensure_buffers(self, n):
        """Activation and gradient buffers for batches of up to ``n`` rows (made once)."""
        if n <= self._cap:
            return
        dims = [l.output_dim for l in self._layers]
        self._acts = [np.empty((n, d), self.dtype) for d in dims]
        self._dys = [np.empty((n, d), self.dtype) for d in dims]
        self._probs = np.empty((n, self.output_dim), self.dtype)
        for layer in self._layers:
            layer.allocate(n)
        self._cap = n

    def _prepare_step(self):
        """Bind the optimizer to the trainable runs of the flat buffer (again if that changed)."""
        trainable = tuple(l.trainable for l in self._layers)
        if self._step_key == (trainable, id(self.optimizer)):
            return
        store = self._store
        runs = store.trainable_runs(trainable)
        tensors = [(s.lo, s.hi) for s in store.trainable_slots(trainable)]
        self.optimizer.bind(store.params, store.grads, runs, tensors)
        self._regs = []
        for s in store.trainable_slots(trainable):
            if s.regularizer is not None:
                w, g = store.params[s.lo:s.hi], store.grads[s.lo:s.hi]
                self._regs.append((s.regularizer, w, g, np.empty_like(w)))
        firsts = [i for i, l in enumerate(self._layers) if l.trainable and l.has_weights]
        self._first = firsts[0] if firsts else len(self._layers)
        self._step_key = (trainable, id(self.optimizer))

    def _forward(self, x, n, training, logits, out=None):
        if self._fused is not None:
            self._fused.emit_logits = logits
        h, last = x, len(self._layers) - 1
        for i, layer in enumerate(self._layers):
            h = layer.forward(h, out if i == last and out is not None else self._acts[i][:n], training)
        return h

    def _penalty(self):
        """The regularizers' penalty of the trainable weights: what training adds to the loss
        (the store's slots, as the training step reads them; 0.4 us without regularizers,
        against 4.5 us through each layer's weight_specs)."""
        store, layers = self._store, self._layers
        return sum([s.regularizer.penalty(store.params[s.lo:s.hi]) for s in store.slots
                    if s.regularizer is not None and layers[s.layer].trainable])

    def _loss_and_backward(self, x, t, w, n, training=True):
        """Forward, loss, backward and regularizer gradients; the loss with its penalties."""
        out = self._forward(x, n, training, True)
        loss, _ = self.loss.compute(out, t, w, self._dys[-1][:n], self._mode)
        layers, first = self._layers, self._first
        for i in range(len(layers) - 1, first - 1, -1):
            layers[i].backward(self._dys[i][:n], self._dys[i - 1][:n] if i > first else None)
        penalty = 0.0
        for reg, wv, gv, scratch in self._regs:
            penalty += reg.penalty(wv)
            reg.add_gradient(wv, gv, scratch)
        return float(loss) + penalty

    def _train_step(self, x, t, w, n):
        """One optimizer step on a batch; returns the loss (with penalties) before the step."""
        loss = self._loss_and_backward(x, t, w, n)
        self.optimizer.step()
        return loss

    @_serialized
    def compute_gradients(self, X, y, *, sample_weight=None, training=True):
        """The loss on ``(X, y)`` as one batch and its gradient for every trainable weight.

        Nothing is updated (BatchNormalization's moving statistics aside, in training mode).

        Returns
        -------
        loss : float
            Including regularization penalties.
        grads : list of ndarray
            Copies, in :meth:`get_weights` order restricted to the trainable layers' weights.
        """
        self._require_compiled("compute_gradients")
        X, T, _, W = self._data(X, y, sample_weight)
        self._ensure_buffers(X.shape[0])
        self._prepare_step()
        loss = self._loss_and_backward(X, T, W, X.shape[0], training)
        store = self._store
        trainable = [l.trainable for l in self._layers]
        grads = [store.grads[s.lo:s.hi].reshape(s.shape).copy()
                 for s in store.trainable_slots(trainable)]
        return loss, grads

    @_serialized
    def _flat_objective(self, X, y, *, sample_weight=None):
        """``f(x) -> (loss, grad)`` over every weight as one float64 vector (get_weights'
        arrays raveled and concatenated), for full-batch optimizers such as SciPy's L-BFGS-B
        (``nnfast.sklearn``'s lbfgs solver).

        The data is checked and converted once, here; each call then copies ``x`` into the
        flat parameter buffer (as ``set_weights`` would, rounded to the model's dtype), runs
        the forward and backward passes on all rows in training mode, and returns what
        :meth:`compute_gradients` would: the loss with its penalties, and the gradient as a
        new float64 vector. Every layer must be trainable and keep no state (Dense networks).
        """
        self._require_compiled("_flat_objective")
        X, T, _, W = self._data(X, y, sample_weight)
        store, n = self._store, X.shape[0]
        if store.state.size or not all(layer.trainable for layer in self._layers):
            raise ValueError("Expected every layer trainable and without state (Dense "
                             "networks) for a flat objective")

        def objective(x):
            with self._lock:
                np.copyto(store.params, x, casting="same_kind")
                self._ensure_buffers(n)
                self._prepare_step()
                loss = self._loss_and_backward(X, T, W, n, True)
                return loss, store.grads.astype(np.float64)

        return objective

    def _outputs(self, out, n, buf=None):
        """Probabilities for the metrics: ``out`` through :attr:`_link` when it holds logits
        (written into ``buf``, default the model's own batch-sized buffer)."""
        if self._link is None:
            return out
        return self._link.forward(out, out=(self._probs if buf is None else buf)[:n])

    # --- training ----------------------------------------------------------------------
    @_serialized
    def fit(self, X, y, *, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
            shuffle=True, class_weight=None, sample_weight=None, callbacks=None, verbose=1):
        """Train for ``epochs`` passes over the data; returns the :class:`History`.

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : array-like
            Integer labels ``(n,)`` for sparse categorical cross-entropy, ``(n, k)`` one-hot
            targets, ``(n,)`` or ``(n, 1)`` for a single output.
        epochs : int
            Defaults to 1.
        batch_size : int
            Defaults to 32.
        validation_split : float
            In [0, 1): the *last* fraction of the data (before shuffling) is held out.
        validation_data : tuple, optional
            ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``; overrides the split.
        shuffle : bool
            Reshuffle (seeded) every epoch. Defaults to True.
        class_weight : dict, optional
            ``{class: weight}`` multiplying the sample weights.
        sample_weight : array-like of shape (n,), optional
        callbacks : list of Callback, optional
        verbose : {0, 1, 2}
            0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.

        Returns
        -------
        History
        """
        from nnfast import callbacks as cb_mod

        self._require_compiled("fit")
        epochs = _int(epochs, "epochs", 0)
        batch_size = _int(32 if batch_size is None else batch_size, "batch_size", 1)
        if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) \
                or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"Expected validation_split in [0, 1), received: validation_split={validation_split!r}")
        _check_verbose(verbose)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"Expected shuffle to be a bool, received: shuffle={shuffle!r}")
        # X's finite check on nnfast's threads: 16384 x 784 float32 1.88 -> 0.96 ms on two
        X, T, M, W = self._data(X, y, sample_weight, threads=None)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("Expected validation_data to be (X_val, y_val) or (X_val, y_val, "
                                 f"sample_weight_val), received: {type(validation_data).__name__}")
            vw = validation_data[2] if len(validation_data) == 3 else None
            val = self._data(validation_data[0], validation_data[1], vw, None, "X_val", "y_val")
        elif validation_split > 0.0:
            at = int(np.floor(X.shape[0] * (1.0 - validation_split)))
            if at < 1 or at >= X.shape[0]:
                raise ValueError(f"Expected validation_split to leave samples on both sides, received: "
                                 f"validation_split={validation_split} with {X.shape[0]} samples")
            val = (X[at:], T[at:], M[at:], None if W is None else W[at:])
            X, T, M, W = X[:at], T[:at], M[:at], None if W is None else W[:at]
        if class_weight is not None:  # the training rows only, as Keras (val_loss unweighted)
            W = self._class_weights(class_weight, M, W)
        n = X.shape[0]
        bs = min(batch_size, n)
        steps = -(-n // bs)
        self._ensure_buffers(bs)
        self._prepare_step()

        metric_names = [m.name for m in self.metrics]
        history = cb_mod.History()
        user = _callback_list(callbacks, cb_mod.Callback)
        chain = [cb_mod.ProgbarLogger()] if verbose else []
        cbl = cb_mod.CallbackList(chain + user + [history], model=self, params={
            "epochs": epochs, "steps": steps, "verbose": verbose,
            "metrics": ["loss", *metric_names] + (["val_loss", *("val_" + m for m in metric_names)]
                                                  if val is not None else []),
        })
        self.history, self.stop_training = history, False
        order = np.arange(n, dtype=np.int64)
        plan = self._training_plan(bs)
        if plan is not None:
            from nnfast._plan_fit import PlanEpochs

            every = any(cb_mod.needs_every_batch(cb) for cb in user)
            epochs_runner = PlanEpochs(self, plan, X, T, M, W, bs, every)
        else:
            gather = _Gather(bs, X, T, M if (self.metrics and M is not T) else None, W)
        self._fit_data = (X, T, W)  # the training arrays, for callbacks (diagnostics.GradientMonitor)
        try:  # an interrupted fit (Ctrl-C, an error in a callback) lets go of the data too
            cbl.on_train_begin()
            logs = {}
            for epoch in range(epochs):
                for m in self.metrics:
                    m.reset_state()
                cbl.on_epoch_begin(epoch)
                if shuffle:  # self._rng.shuffle(np.arange(n)), without NumPy's per-call costs
                    _shuffled_range(self._rng, order)
                if plan is not None:
                    logs = epochs_runner.run(cbl, order if shuffle else None)
                else:
                    logs = self._epoch_per_layer(cbl, gather, order if shuffle else None, n, bs,
                                                 steps)
                logs = {k: v for k, v in logs.items() if k not in ("batch_loss", "size")}
                if val is not None:
                    # in evaluate's default chunks, not the training batch (batch_size only
                    # bounds memory there): a 30-64-64-1 fit at batch 32 with
                    # validation_split=0.1 spent a third of each epoch on 52 small batches
                    for k, v in self._evaluate_arrays(*val, max(bs, _PREDICT_CHUNK),
                                                      self._val_metrics).items():
                        logs["val_" + k] = v
                logs["lr"] = float(self.optimizer.current_learning_rate())
                cbl.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbl.on_train_end(logs)
        finally:
            self._fit_data = None
        return history

    def _epoch_per_layer(self, cbl, gather, order, n, bs, steps):
        """One epoch through the layers' Python objects (models the compiled plan cannot run)."""
        total, seen, logs = 0.0, 0, {}
        for b in range(steps):
            cbl.on_train_batch_begin(b)
            lo, hi = b * bs, min(n, (b + 1) * bs)
            x, t, mt, w = gather(slice(lo, hi) if order is None else order[lo:hi])
            m = hi - lo
            loss = self._train_step(x, t, w, m)
            total += loss * m
            seen += m
            logs = {"loss": total / seen}
            if self.metrics:
                pred = self._outputs(self._acts[-1][:m], m)
                for met in self.metrics:
                    met.update_state(t if mt is None else mt, pred)
                    logs[met.name] = float(met.result())
            logs.update(batch_loss=loss, size=m)
            cbl.on_train_batch_end(b, logs)
            if self.stop_training:
                break
        return logs

    @_serialized
    def train_on_batch(self, X, y, sample_weight=None, class_weight=None):
        """One optimizer step on ``(X, y)`` as one batch; returns the loss before the step."""
        self._require_compiled("train_on_batch")
        X, T, _, W = self._data(X, y, sample_weight, class_weight)
        n = X.shape[0]
        plan = self._training_plan(n)
        if plan is not None:
            # The step as one C call, with the per-layer path's bits (as fit's): a 30-64-64-1
            # step at batch 32 measured 240 us through the layers' validated ops. _data has
            # checked the arrays as train_chunk would (labels: intp, in range), so the plan
            # runs the step without checking them again.
            lrs, losses = self._one_step
            plan._steps(X, None if plan.sparse else T, T if plan.sparse else None, W, None, 0, 1,
                        n, plan.learning_rates(1, lrs), losses, None, None)
            return float(losses[0])
        self._ensure_buffers(n)
        self._prepare_step()
        return self._train_step(X, T, W, n)

    # --- inference ---------------------------------------------------------------------
    def _evaluate_arrays(self, X, T, M, W, batch_size, metrics):
        n = X.shape[0]
        rows, probs = min(batch_size, n), None  # None: the model's own metric buffer
        plan = self._predict_plan() if X.flags.c_contiguous else None
        # With a training plan, the forward pass, the loss and the accuracy's hits (counted as
        # fit counts them) in one C call per chunk; with an inference plan (compiled, never
        # fitted), the forward pass in one. The logits when the loss fuses the last activation.
        loss_in_c = plan is not None and not plan.inference_only
        counted = loss_in_c and bool(metrics) and plan.counts_correct and all(
            type(m) is metrics_mod.Accuracy for m in metrics)
        if plan is not None:
            logits, fused = np.empty((rows, self.output_dim), self.dtype), self._fused is not None
            probs = np.empty_like(logits) if metrics and not counted else None
            grad = np.empty_like(logits)
        else:
            self._ensure_buffers(rows)
        for m in metrics:
            m.reset_state()
        total = 0.0
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            k = hi - lo
            if loss_in_c:
                out = logits[:k]
                loss, hits = plan.evaluate(X[lo:hi], T[lo:hi], None if W is None else W[lo:hi],
                                           out, grad[:k], fused, counted)
                if counted:
                    for m in metrics:
                        m.update_counts(hits, k)
            elif plan is not None:
                out = plan.predict(X[lo:hi], logits[:k], False, fused)
                loss, _ = self.loss.compute(out, T[lo:hi], None if W is None else W[lo:hi],
                                            grad[:k], self._mode)
            else:
                out = self._forward(X[lo:hi], k, False, True)
                loss, _ = self.loss.compute(out, T[lo:hi], None if W is None else W[lo:hi],
                                            self._dys[-1][:k], self._mode)
            total += float(loss) * k
            if metrics and not counted:
                pred = self._outputs(out, k, probs)
                for m in metrics:
                    m.update_state(M[lo:hi], pred)
        result = {"loss": total / n + self._penalty()}
        for m in metrics:
            result[m.name] = float(m.result())
        return result

    @_serialized
    def evaluate(self, X, y, *, batch_size=None, sample_weight=None, verbose=0):
        """Loss and metrics on ``(X, y)`` in inference mode, e.g. ``{"loss": ..., "accuracy": ...}``.

        ``batch_size`` only bounds memory (results do not depend on it); ``verbose`` is accepted
        for Keras compatibility and prints nothing.
        """
        _check_verbose(verbose)
        self._require_compiled("evaluate")
        bs = _PREDICT_CHUNK if batch_size is None else _int(batch_size, "batch_size", 1)
        X, T, M, W = self._data(X, y, sample_weight)
        return self._evaluate_arrays(X, T, M, W, bs, self._val_metrics)

    def predict(self, X, *, batch_size=None, verbose=0):
        """The output activations for ``X``: an array of shape (n, output_dim) in the model dtype.

        ``batch_size`` only bounds memory; ``verbose`` is accepted for Keras compatibility.
        """
        # The model's lock taken here rather than by @_serialized: its wrapper frame was ~0.8 us
        # of a 3.7 us batch-1 predict of a 30-64-64-1 network.
        with self._lock:
            # inference needs no optimizer checks: any plan of these weights
            plan = self._plan or self._inference_plan
            if (plan is not None and batch_size is None and type(verbose) is int
                    and verbose == 0 and self._use_plan):
                forward = plan.serving_forward()
                # The serving case: X's type, dtype, layout and shape checked, the output made
                # and X's finiteness checked inside the plan's C call, in one Cython call
                # (30-4-1 at batch 1: 8.0 -> 3.2 us here with the checks in Python).
                result = False if forward is None else forward.serve(X)
                if result is not False:
                    if result is None:
                        raise _not_finite("X")
                    return result
            return self._predict_checked(X, batch_size, verbose)

    def _predict_checked(self, X, batch_size, verbose):
        """``predict`` for any input and argument (the caller holds the lock)."""
        _check_verbose(verbose)
        bs = _PREDICT_CHUNK if batch_size is None else _int(batch_size, "batch_size", 1)
        X = self._inputs(X)
        if not self.built and self.input_dim is None:
            self.build(X.shape[1])  # as fit and evaluate do, and Keras on a first predict
        self._ensure_built("predict")
        n = X.shape[0]
        result = np.empty((n, self.output_dim), self.dtype)
        plan = self._predict_plan()
        if plan is not None:  # the forward pass in one C call
            return plan.predict(X, result)
        bs = min(bs, n)
        self._ensure_buffers(bs)
        if self._fused is not None:
            self._fused.emit_logits = False
        for lo in range(0, n, bs):
            hi = min(n, lo + bs)
            self._forward(X[lo:hi], hi - lo, False, False, out=result[lo:hi])
        return result

    def _predict_plan(self):
        """The plan ``predict`` runs: the training plan if one is current, else the inference
        plan (made once per build, compiled or not); None for the per-layer path."""
        from nnfast._plan import compile_inference_plan

        if not self._use_plan:
            return None
        plan = self._plan
        if plan is not None:
            if plan._store is self._store:
                return plan
            self._plan = None  # the model was built again: fit makes a new one (and predict's
            #                    fast path then finds the inference plan)
        plan = self._inference_plan
        if plan is None or plan._store is not self._store:
            plan = self._inference_plan = compile_inference_plan(self)
        return plan

    # --- weights -----------------------------------------------------------------------
    def get_weights(self):
        """Copies of every weight array, layer by layer (see DESIGN.md for the order)."""
        if not self.built:
            if self.input_dim is None:
                return []
            self.build()
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Copy ``weights`` (as :meth:`get_weights` returns them) into the model.

        Every shape is checked; values are converted to the model's dtype.
        """
        if isinstance(weights, np.ndarray) or not hasattr(weights, "__iter__"):
            raise TypeError("Expected weights to be a list of arrays (as get_weights returns), "
                            f"received: {type(weights).__name__}")
        weights = list(weights)
        if not self.built:
            if self.input_dim is None and weights and np.ndim(weights[0]) in (1, 2):
                # the first weight is a Dense kernel (in, out) or a normalization's gamma (in,),
                # whatever shape-keeping layers (Dropout, Activation) come before it
                self.input_dim = int(np.shape(weights[0])[0])
            self._ensure_built("set_weights")
        self._set_arrays(weights)

    def _set_arrays(self, weights, partial=False):
        slots = [(layer, name) for layer in self._layers for name in layer.weight_names()]
        if len(weights) != len(slots) and not (partial and len(weights) < len(slots)):
            raise ValueError(f"Expected {len(slots)} weight arrays, received: {len(weights)}")
        checked = []
        for (layer, name), w in zip(slots, weights):
            view = {**layer.params, **layer.state}[name]
            w = np.asarray(w)
            if w.dtype.kind not in "fiub":
                raise TypeError(f"Expected numeric weights for {layer.name}.{name}, received: dtype {w.dtype}")
            if w.shape != view.shape:
                raise ValueError(f"Expected {layer.name}.{name} of shape {view.shape}, received: "
                                 f"shape {w.shape}")
            checked.append((view, w))
        for view, w in checked:  # all shapes checked before anything is written
            np.copyto(view, w, casting="unsafe")

    def _weights_finite(self):
        """Whether every weight (trainable or not) is finite: one pass over the flat buffers,
        without get_weights' copies."""
        self._ensure_built("_weights_finite")
        return _all_finite(self._store.params) and _all_finite(self._store.state)

    def count_params(self):
        """Number of scalars in all weights, trainable or not."""
        self._ensure_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, print_fn=print):
        """Print a table of the layers, their output shapes and parameter counts."""
        self._ensure_built("summary")
        rows = [(f"{l.name} ({type(l).__name__})", f"(None, {l.output_dim})", l.count_params())
                for l in self._layers]
        w0 = max(24, *(len(r[0]) + 2 for r in rows))
        line = "─" * (w0 + 30)
        out = [f'Model: "{self.name}"', line,
               f"{'Layer (type)':<{w0}}{'Output Shape':<18}{'Param #':>12}", line]
        out += [f"{a:<{w0}}{b:<18}{c:>12,}" for a, b, c in rows]
        trainable = sum(l.count_params() - sum(int(np.prod(s.shape)) for s in l.state_specs())
                        for l in self._layers if l.trainable)
        total = self.count_params()
        out += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {total - trainable:,}", line]
        print_fn("\n".join(out))

    def save(self, path, metadata=None):
        """Write the model (architecture, weights, compile settings, optimizer state) to ``.npz``.

        ``metadata`` (a JSON-serializable dict, defaults to :attr:`metadata`) is stored with it
        and restored by :func:`nnfast.load_model` as ``model.metadata``.
        """
        from nnfast import saving

        saving.save_model(self, path, metadata)


class _Gather:
    """Copies the rows of one batch into buffers made once per fit (``np.take(..., out=)``)."""

    def __init__(self, bs, X, T, M, W):
        self.arrays = [a for a in (X, T, M, W)]
        self.bufs = [None if a is None else np.empty((bs,) + a.shape[1:], a.dtype) for a in self.arrays]

    def __call__(self, rows):
        if isinstance(rows, slice):
            return tuple(None if a is None else a[rows] for a in self.arrays)
        n = rows.shape[0]
        return tuple(None if a is None else np.take(a, rows, axis=0, out=b[:n], mode="clip")
                     for a, b in zip(self.arrays, self.bufs))


def _callback_list(callbacks, base):
    """``fit``'s ``callbacks`` as a list, each a ``base`` instance (a lone callback is an error
    that names the argument, not a raw "object is not iterable")."""
    if callbacks is None:
        return []
    if isinstance(callbacks, base) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("Expected callbacks to be a list of nnfast.callbacks.Callback, "
                        f"received: callbacks={callbacks!r}")
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, base):
            raise TypeError(f"Expected callbacks[{i}] to be a nnfast.callbacks.Callback, "
                            f"received: {cb!r}")
    return list(callbacks)
