"""Callbacks: objects the training loop calls at train, epoch and batch begin and end.

>>> import nnfast as nf
>>> cbs = [nf.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
...        nf.callbacks.ReduceLROnPlateau(factor=0.5, patience=2)]
>>> [type(c).__name__ for c in cbs]
['EarlyStopping', 'ReduceLROnPlateau']
"""

from nnfast.callbacks.base import Callback, CallbackList, needs_every_batch
from nnfast.callbacks.checkpoint import ModelCheckpoint
from nnfast.callbacks.csv_logger import CSVLogger
from nnfast.callbacks.early_stopping import EarlyStopping
from nnfast.callbacks.history import History
from nnfast.callbacks.lr_scheduler import LearningRateScheduler
from nnfast.callbacks.monitor import MonitorCallback
from nnfast.callbacks.progbar import ProgbarLogger
from nnfast.callbacks.reduce_lr import ReduceLROnPlateau
from nnfast.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "Callback", "CallbackList", "needs_every_batch", "History", "ProgbarLogger", "MonitorCallback", "EarlyStopping",
    "ModelCheckpoint", "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "LearningRateScheduler",
    "GradientMonitor",
]


def __getattr__(name):
    """``GradientMonitor`` lives in :mod:`nnfast.diagnostics`, loaded on first use."""
    if name == "GradientMonitor":
        from nnfast.diagnostics.monitor import GradientMonitor

        return GradientMonitor
    raise AttributeError(f"module 'nnfast.callbacks' has no attribute {name!r}")
