"""scikit-learn's per-epoch bookkeeping and stopping rule, as an nnfast callback.

At the end of every epoch :class:`SklearnProgress` appends the epoch's loss in scikit-learn's
units to ``loss_curve_`` (nnfast's mean training loss, L2 penalty included, times
``report_scale``), counts ``n_iter_`` and ``t_``, and applies scikit-learn's rule: without a
validation set, an epoch whose loss is not below ``best_loss_ - tol`` adds one to a counter
(reset otherwise); with one (early stopping), an epoch whose validation score is not above
``best_validation_score_ + tol`` does, and the best epoch's weights are kept. Training stops
when the counter exceeds ``n_iter_no_change``.

With ``solver="sgd"`` the estimator's ``learning_rate`` schedule is applied here too, as in
scikit-learn's SGD optimizer: ``"invscaling"`` sets the rate to ``learning_rate_init / (t_ +
1) ** power_t`` after every epoch (``t_``: samples seen), and ``"adaptive"`` divides it by 5
instead of stopping when the counter exceeds ``n_iter_no_change`` (it stops once the rate is at
most 1e-6).
"""

from nnfast.callbacks import Callback

__all__ = ["SklearnProgress"]


class SklearnProgress(Callback):
    """Update an estimator's ``loss_curve_``, ``n_iter_``, ... every epoch; stop like scikit-learn.

    Parameters
    ----------
    estimator : _BaseMLP
        Receives ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
        ``validation_scores_``, ``best_validation_score_`` and ``_no_improvement_count``.
    n_samples : int
        Training rows per epoch.
    report_scale : float
        nnfast's loss times this is scikit-learn's.
    tol : float
        The smallest improvement that resets the counter.
    n_iter_no_change : int
        Training stops when the counter exceeds it.
    verbose : bool
        Print each epoch's loss (and validation score) as scikit-learn does.
    validation : callable, optional
        ``validation(model) -> score`` (higher is better) for early stopping.
    schedule : {"constant", "invscaling", "adaptive"} or None
        scikit-learn's SGD ``learning_rate``; None (other solvers) or "constant" leaves the rate.
    learning_rate_init, power_t : float
        The schedule's constants.

    Attributes
    ----------
    stopped : bool
        Whether the stopping rule fired (training converged by scikit-learn's criterion).
    best_weights : list of ndarray or None
        With ``validation``: the weights of the best-scoring epoch.
    """

    def __init__(self, estimator, n_samples, report_scale, *, tol,
                 n_iter_no_change, verbose=False, validation=None, schedule=None,
                 learning_rate_init=1e-3, power_t=0.5):
        super().__init__()
        self.schedule = schedule
        self.learning_rate_init, self.power_t = learning_rate_init, power_t
        self.estimator = estimator
        self.tol, self.n_iter_no_change, self.verbose = tol, n_iter_no_change, verbose
        self.n_samples = n_samples
        self.report_scale = report_scale
        self.validation = validation
        self.stopped = False
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        est, model = self.estimator, self.model
        loss = self.report_scale * float(logs["loss"])
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            score = float(self.validation(model))
            est.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + self.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_weights = model.get_weights()
        else:
            if loss > est.best_loss_ - self.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = loss
        if self.schedule == "invscaling":
            model.optimizer.learning_rate = self.learning_rate_init / (est.t_ + 1) ** self.power_t
        if est._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            msg = (f"{what} did not improve more than tol={self.tol:f} for "
                   f"{self.n_iter_no_change} consecutive epochs.")
            lr = model.optimizer.learning_rate
            if self.schedule == "adaptive" and lr > 1e-6:
                model.optimizer.learning_rate = lr / 5.0
                est._no_improvement_count = 0
                if self.verbose:
                    print(f"{msg} Setting learning rate to {lr / 5.0:f}")
                return
            if self.verbose:
                print(msg + (" Learning rate too small." if self.schedule == "adaptive" else "")
                      + " Stopping.")
            self.stopped = True
            model.stop_training = True
