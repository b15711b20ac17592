"""``nnfast predict MODEL DATA``: predictions of a model written by ``nnfast train``, as CSV.

The feature columns are taken from DATA by the names saved at training (other columns, the
target among them, are ignored), standardized with the saved scaler, and run through the model.
The CSV has a ``prediction`` column (the class label, or the regression value in the target's
units) and, for classification, one ``proba_<class>`` column per class; one row per input row,
in order. Without ``--out`` it goes to standard output.
"""

import csv
import os
import sys

import numpy as np

from nnfast.cli import UsageError
from nnfast.cli.data import read_table
from nnfast.cli.preprocess import apply_scaler

NAME = "predict"
HELP = "Predict with a model saved by 'nnfast train' on a CSV or NPZ file; write CSV."

_REQUIRED = ("task", "features", "scaler")


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL", help="a model file written by nnfast train")
    parser.add_argument("data", metavar="DATA", help="a CSV or NPZ file with the model's feature columns")
    parser.add_argument("--out", metavar="PATH", help="write the CSV here (default: standard output)")


def load(path):
    """The model and its training metadata, or a UsageError saying why not."""
    import nnfast as nf

    try:
        model = nf.load_model(path)
    except FileNotFoundError:
        raise UsageError(f"no such model file: {path!r}") from None
    except (ValueError, OSError) as exc:
        raise UsageError(" ".join(str(exc).split())) from None
    meta = model.metadata
    missing = [k for k in _REQUIRED if k not in meta]
    if missing or meta["task"] not in ("classification", "regression") or \
            ("classes" if meta["task"] == "classification" else "target_scaler") not in meta:
        raise UsageError(f"{path!r} was not written by 'nnfast train': its metadata lacks the "
                         f"feature names, scaler and labels that predict needs")
    return model, meta


def predictions(model, meta, X):
    """``(header, rows)`` of the output CSV for the raw feature matrix ``X``."""
    try:
        out = model.predict(apply_scaler(X, meta["scaler"], model.dtype))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"the model cannot predict on this data: {exc}") from None
    if meta["task"] == "classification":
        classes = meta["classes"]
        labels = [classes[i] for i in np.argmax(out, axis=1)]
        header = ["prediction"] + [f"proba_{c}" for c in classes]
        rows = ([label] + [f"{p:.6g}" for p in probs] for label, probs in zip(labels, out.tolist()))
    else:
        ts = meta["target_scaler"]
        values = out[:, 0].astype(np.float64) * ts["scale"][0] + ts["mean"][0]
        header, rows = ["prediction"], ([f"{v:.8g}"] for v in values.tolist())
    return header, rows


def run(args):
    model, meta = load(args.model)
    table = read_table(args.data)
    X = table.features(meta["features"])
    header, rows = predictions(model, meta, X)
    if args.out is None:
        try:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            sys.stdout.flush()
        except BrokenPipeError:  # `nnfast predict ... | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    except OSError as exc:
        raise UsageError(f"cannot write predictions to {args.out!r}: {exc.strerror or exc}") from None
    print(f"wrote {len(table)} predictions to {args.out} ({', '.join(header[:4])}"
          f"{', ...' if len(header) > 4 else ''})")
    return 0
