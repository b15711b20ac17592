"""``Sequential.fit``'s epoch loop through the compiled plan (:mod:`nnfast._plan`).

One :meth:`Plan.train_chunk` call runs many mini-batches in C without the GIL; between calls
the loop updates the running loss and metrics and calls the batch hooks. Chunks last about
:data:`CHUNK_SECONDS` (the progress bar redraws and Ctrl-C is seen between them), measured on
the first steps of the fit. The built-in metrics other than the plan's own accuracy count
are fed the chunk's outputs (the plan writes every step's, up to :data:`OUTPUT_FLOATS` a
chunk) in one ``update_state`` call: they accumulate counts and sums, so only the grouping of
their float sums changes (none for the counting ones: accuracy, precision, recall, f1, auc
without weights). When a callback needs every batch (it overrides a batch hook) or a metric
may depend on the batches (``MeanMetricWrapper`` of a function, a custom ``Metric``), every
chunk is one step, still in C.

The steps are the per-layer path's to the last bit on one thread count: same data order,
same kernels, same dropout seeds (``tests/test_plan.py``).
"""

import time

import numpy as np

from nnfast import metrics as metrics_mod

__all__ = ["PlanEpochs", "CHUNK_SECONDS"]

CHUNK_SECONDS = 0.05
OUTPUT_FLOATS = 1 << 19  # outputs kept per chunk for the metrics (2 MB of float32)

# Metrics whose state after updates on a chunk equals that after its batches one by one.
_CHUNKABLE = (metrics_mod.Accuracy, metrics_mod.Precision, metrics_mod.Recall, metrics_mod.F1,
              metrics_mod.AUC, metrics_mod.MeanAbsoluteError, metrics_mod.MeanSquaredError)


class PlanEpochs:
    """Runs the epochs of one ``fit`` call; buffers are made once, here.

    Parameters
    ----------
    model : Sequential
    plan : Plan
        ``model``'s compiled plan for batches of ``batch_size`` rows.
    X, T, M, W : ndarray
        The training data as ``Sequential._data`` returns it (features, loss targets, metric
        targets, sample weights or None).
    batch_size : int
    every_batch : bool
        A callback needs ``on_train_batch_begin/end`` for every batch.
    """

    def __init__(self, model, plan, X, T, M, W, batch_size, every_batch):
        self.model, self.plan = model, plan
        self.X, self.T, self.M, self.W = X, T, M, W
        n = X.shape[0]
        self.n, self.bs = n, batch_size
        self.steps = -(-n // batch_size)
        # (a list: a chunk's row count summed in Python, where NumPy's sum of a few floats
        # cost ~4 us a chunk)
        self.sizes = np.minimum(batch_size, n - np.arange(self.steps) * batch_size).astype(
            np.float64).tolist()
        self.dense, self.labels = plan._targets(T, n)  # checked once for the fit's chunks
        metrics = model.metrics
        self.counted = bool(metrics) and plan.counts_correct and all(
            type(m) is metrics_mod.Accuracy for m in metrics)
        self.needs_outputs = bool(metrics) and not self.counted
        self.every = every_batch or (self.needs_outputs
                                     and not all(type(m) in _CHUNKABLE for m in metrics))
        self.losses = np.empty(self.steps)
        self.lrs = np.empty(self.steps)
        self.correct = np.empty(self.steps) if self.counted else None
        self.chunk = 1 if self.every else None  # measured on the first call of run
        self.max_chunk = self.steps
        self.obuf = None
        if self.needs_outputs:
            width = plan.out_dim
            self.max_chunk = max(1, min(self.steps, OUTPUT_FLOATS // (batch_size * width)))
            rows = min(n, self.max_chunk * batch_size)
            self.obuf = np.empty((rows, width), model.dtype)  # outputs, then probabilities
            self.pbuf = np.empty((rows, width), model.dtype) if model._link is not None else None
            self.mbuf = np.empty((rows,) + M.shape[1:], M.dtype)
        self.outs = None if self.obuf is None else self.obuf.reshape(-1)

    def _train(self, order, b, k):
        """Steps b .. b + k - 1 in one C call: ``Plan._steps`` after ``_check_current`` only.
        train_chunk's argument checks hold for the whole fit (this object made the buffers;
        X, T, W are _data's, checked; ``order`` is a permutation of the rows), and cost ~15
        us a chunk, as much as a 150-row step of a small network."""
        plan = self.plan
        plan._check_current()
        plan._steps(self.X, self.dense, self.labels, self.W, order, b, k, self.bs,
                    plan.learning_rates(k, self.lrs), self.losses, self.correct, self.outs)

    def _tune(self, order):
        """Run the epoch's first steps and size the chunks from their time; returns steps run."""
        k = min(self.max_chunk, 4)
        t0 = time.perf_counter()
        self._train(order, 0, k)
        per_step = (time.perf_counter() - t0) / k
        self.chunk = max(1, min(self.max_chunk, int(CHUNK_SECONDS / max(per_step, 1e-7))))
        return k

    def _metric_targets(self, order, lo, hi):
        if order is None:
            return self.M[lo:hi]
        return np.take(self.M, order[lo:hi], axis=0, out=self.mbuf[:hi - lo], mode="clip")

    def run(self, cbl, order):
        """One epoch (``order``: the shuffled rows, or None); returns the last batch's logs."""
        model, sizes, steps = self.model, self.sizes, self.steps
        metrics = model.metrics
        total = seen = 0.0
        logs, b = {}, 0
        while b < steps:
            if self.every:
                cbl.on_train_batch_begin(b)
                k = 1
                self._train(order, b, 1)
            elif self.chunk is None:
                k = self._tune(order)
            else:
                k = min(self.chunk, steps - b)
                self._train(order, b, k)
            rows = sizes[b:b + k]
            for loss, m in zip(self.losses[:k].tolist(), rows):
                total += loss * m  # batch by batch: the sum must not depend on the chunk size
            chunk_rows = sum(rows)  # (whole numbers: exact in any order)
            seen += chunk_rows
            logs = {"loss": total / seen}
            if self.counted:
                hits = sum(self.correct[:k].tolist())  # (whole numbers, as the rows)
                for met in metrics:
                    met.update_counts(hits, chunk_rows)
                    logs[met.name] = float(met.result())
            elif self.needs_outputs:
                m = int(chunk_rows)
                pred = model._outputs(self.obuf[:m], m, self.pbuf)
                mt = self._metric_targets(order, b * self.bs, b * self.bs + m)
                for met in metrics:
                    met.update_state(mt, pred)
                    logs[met.name] = float(met.result())
            logs.update(batch_loss=float(self.losses[k - 1]), size=int(rows[-1]))
            b += k
            cbl.on_train_batch_end(b - 1, logs)
            if model.stop_training:
                break
        return logs
