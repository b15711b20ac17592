"""The callback protocol (Keras's hooks) and :class:`CallbackList`, which dispatches to many.

The model calls, in order: ``set_model``, ``set_params``, ``on_train_begin``; for each epoch
``on_epoch_begin(epoch)`` (epochs counted from 0), ``on_train_batch_begin/end(batch)`` for each
batch (from 0 within the epoch), ``on_epoch_end(epoch, logs)``; then ``on_train_end``. A
callback stops training by setting ``model.stop_training = True`` (checked after every batch
and every epoch).

``params`` is ``{"epochs": E, "steps": steps_per_epoch, "verbose": v, "metrics": [names,
with the val_ ones]}``. Epoch-end ``logs`` hold floats for ``"loss"``, each metric name,
``"val_loss"`` and ``"val_<metric>"`` (when validation runs) and ``"lr"``; batch-end ``logs``
hold the running ``"loss"`` and metrics of the epoch so far, ``"batch_loss"`` (this batch's
loss) and ``"size"`` (its number of samples).

When no callback overrides a batch hook, ``fit`` runs many batches per call of its compiled
training plan and calls ``on_train_batch_end`` once per such chunk, with the chunk's last batch
index (the progress bar is written for this: it sets ``batch_hooks_in_chunks``). A callback
that overrides ``on_train_batch_begin/end`` or ``on_batch_begin/end`` is called for every batch.
"""

__all__ = ["Callback", "CallbackList", "needs_every_batch"]

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def needs_every_batch(callback):
    """True when ``callback`` overrides a batch hook and has not declared chunks acceptable.

    >>> class Counter(Callback):
    ...     def on_batch_end(self, batch, logs=None):
    ...         pass
    >>> needs_every_batch(Counter()), needs_every_batch(Callback())
    (True, False)
    """
    if getattr(callback, "batch_hooks_in_chunks", False):
        return False
    kind = type(callback)
    return any(getattr(kind, hook, None) is not getattr(Callback, hook) for hook in _BATCH_HOOKS)


class Callback:
    """Base class: every hook is a no-op; subclasses override the ones they need.

    Attributes
    ----------
    model : object
        The model being trained (set by :meth:`set_model`).
    params : dict
        The training parameters (set by :meth:`set_params`).

    Examples
    --------
    >>> class CountEpochs(Callback):
    ...     def on_train_begin(self, logs=None):
    ...         self.count = 0
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.count += 1
    >>> cb = CountEpochs(); cb.on_train_begin(); cb.on_epoch_end(0, {"loss": 1.0}); cb.count
    1
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = dict(params or {})

    def on_train_begin(self, logs=None):
        """Called once before the first epoch: reset per-training state here."""

    def on_train_end(self, logs=None):
        """Called once after the last epoch (also when a callback stopped training)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch ``epoch`` (from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of epoch ``epoch`` with the epoch's logs (validation included)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch`` (from 0 within the epoch)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after training batch ``batch`` with the running logs."""
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name for :meth:`on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name for :meth:`on_train_batch_end`."""

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class CallbackList:
    """Calls each hook on every callback, in order.

    Parameters
    ----------
    callbacks : list of Callback, optional
        Defaults to None (no callbacks).
    model : object, optional
        Passed to every callback's ``set_model`` when given.
    params : dict, optional
        Passed to every callback's ``set_params`` when given.

    Examples
    --------
    >>> from nnfast.callbacks import History
    >>> h = History()
    >>> cbs = CallbackList([h], model=None, params={"epochs": 1})
    >>> cbs.on_train_begin(); cbs.on_epoch_end(0, {"loss": 0.5}); h.history
    {'loss': [0.5]}
    """

    def __init__(self, callbacks=None, model=None, params=None):
        self.callbacks, self.model, self.params = [], None, {}
        for cb in callbacks or []:
            self.append(cb)
        if model is not None:
            self.set_model(model)
        if params is not None:
            self.set_params(params)

    def append(self, callback):
        if not isinstance(callback, Callback):
            raise TypeError(
                "Expected callbacks to be nnfast.callbacks.Callback instances, "
                f"received: {type(callback).__name__}"
            )
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = dict(params or {})
        for cb in self.callbacks:
            cb.set_params(self.params)

    def _each(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._each("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._each("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._each("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._each("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._each("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._each("on_train_batch_end", batch, logs)

    on_batch_begin = on_train_batch_begin
    on_batch_end = on_train_batch_end

    def on_test_begin(self, logs=None):
        self._each("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._each("on_test_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._each("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._each("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs=None):
        self._each("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._each("on_predict_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._each("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._each("on_predict_batch_end", batch, logs)
