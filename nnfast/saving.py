"""Save and load models as one ``.npz`` file: arrays plus a JSON description, never pickles.

The file holds every weight array (``weight_0000``, ... in :meth:`Sequential.get_weights` order),
the optimizer's state buffers (``optimizer_<slot>``) and a UTF-8 JSON description stored as a
uint8 array (``__config__``): format and version, dtype, input width, the layers' configs, the
compile settings (optimizer with its schedule, loss, metric names), the optimizer's iteration
count and learning-rate multiplier, the state of the model's random generator, so that
training resumed from a file continues exactly as uninterrupted training would, and the model's
``metadata`` (a JSON-serializable dict of the user's: feature names, a scaler, class labels; files
written before it existed load with ``{}``). Files are read
with ``allow_pickle=False`` (loading an untrusted file runs no code) and written to a temporary
file in the same directory, then renamed into place.

>>> import os, tempfile, numpy as np, nnfast as nf
>>> model = nf.Sequential([nf.layers.Dense(2)], input_dim=3, seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
>>> model.save(path)
>>> same = nf.load_model(path)
>>> all(np.array_equal(a, b) for a, b in zip(model.get_weights(), same.get_weights()))
True
"""

import json
import os
import secrets

import numpy as np

__all__ = ["save_model", "load_model"]

FORMAT = "nnfast.Sequential"
VERSION = 1
_CONFIG_KEY = "__config__"
#: The first bytes of an .npz (zip) archive: its first entry, or an empty archive's end record.
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def _check_metadata(metadata):
    """``metadata`` as JSON text, or TypeError/ValueError naming what cannot be stored."""
    if not isinstance(metadata, dict):
        raise TypeError(f"Expected metadata to be a dict, received: metadata={metadata!r}")
    try:
        text = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Expected metadata to be JSON-serializable (dicts with string keys, lists, "
                        f"strings, finite numbers, booleans, None), received: metadata with {exc}") from None
    if json.loads(text) != metadata:  # e.g. int keys that JSON turns into strings, tuples
        raise TypeError("Expected metadata that survives a JSON round trip unchanged (string keys, "
                        "lists not tuples), received: metadata that JSON would change")
    return text


def save_model(model, path, metadata=None):
    """Write ``model`` to ``path`` atomically (temporary file + ``os.replace``).

    Parameters
    ----------
    model : Sequential
        A built model (compiled or not).
    path : str or os.PathLike
        Written as given (``.npz`` is the usual suffix).
    metadata : dict, optional
        JSON-serializable data stored with the model and restored by :func:`load_model` as
        ``model.metadata``. Defaults to None: the model's own ``metadata`` attribute (``{}``
        when it has none).

    Examples
    --------
    >>> import os, tempfile, nnfast as nf
    >>> model = nf.Sequential([nf.layers.Dense(1)], input_dim=2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> nf.saving.save_model(model, path, metadata={"features": ["a", "b"]})
    >>> nf.load_model(path).metadata
    {'features': ['a', 'b']}
    """
    from nnfast import layers, losses, optimizers

    path = _fspath(path)
    if metadata is None:
        metadata = getattr(model, "metadata", None) or {}
    metadata_text = _check_metadata(metadata)
    model._ensure_built("save")
    config = {
        "format": FORMAT, "version": VERSION, "name": model.name, "dtype": model.dtype.name,
        "input_dim": model.input_dim, "seed": model.seed,
        "layers": [layers.serialize(layer) for layer in model.layers],
        "rng_state": model._rng.bit_generator.state,
        "compile": None,
    }
    arrays = {f"weight_{i:04d}": w for i, w in enumerate(model.get_weights())}
    if model.compiled:
        opt = model.optimizer
        config["compile"] = {
            "optimizer": optimizers.serialize(opt),
            "loss": losses.serialize(model.loss),
            "metrics": [m.name for m in model.metrics],
            "iterations": int(opt.iterations),
            "lr_multiplier": float(opt.lr_multiplier),
            "slots": sorted(opt.slots),
        }
        arrays.update({f"optimizer_{k}": v for k, v in opt.slots.items()})
    config["metadata"] = json.loads(metadata_text)
    text = json.dumps(config, allow_nan=False)
    arrays[_CONFIG_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    # The temporary name is known before the file exists, so a KeyboardInterrupt at any point
    # (even inside the call that creates it) leaves nothing behind.
    tmp = os.path.join(directory, f".nnfast-{secrets.token_hex(8)}.tmp")
    fd = None
    try:
        # 0o666 less the umask, as open() or np.savez would create it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            fd = None  # the file object owns it now
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if fd is not None:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # the disk said no: say which file (any old one is intact)
            reason = exc.strerror or str(exc)
            raise OSError(exc.errno, f"Could not save the model to {path!r} ({reason}): "
                                     "nothing was written") from exc
        raise


def _fspath(path):
    """``os.fspath(path)``, with a TypeError that names the argument."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError("Expected path to be a str or os.PathLike, received: "
                        f"path={path!r}") from None


def _read(path):
    """``(config dict, arrays dict)`` from the file, or ValueError saying what is wrong."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic not in ZIP_MAGICS:
            raise ValueError("it is not an .npz (zip) archive")
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("it holds a single array, not an archive")
            if _CONFIG_KEY not in data.files:
                raise ValueError(f"it has no {_CONFIG_KEY!r} entry (not saved by nnfast)")
            arrays = {k: data[k] for k in data.files}
        config = json.loads(arrays.pop(_CONFIG_KEY).tobytes().decode("utf-8"))
    except Exception as exc:  # truncated zip, foreign file, bad JSON: one clear error
        raise ValueError(f"Expected an nnfast model file, received: {path!r}, which cannot be "
                         f"read as one ({type(exc).__name__}: {exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"Expected an nnfast model file, received: {path!r} with an unknown format")
    if config.get("version") != VERSION:
        raise ValueError(f"Expected an nnfast model file of version {VERSION}, received: version "
                         f"{config.get('version')!r} in {path!r}")
    return config, arrays


def load_model(path):
    """Load a model written by :meth:`Sequential.save`; compiled again if it was compiled.

    The saved metadata is restored as ``model.metadata`` (``{}`` for files without any). Raises FileNotFoundError for a missing file and ValueError for a truncated, corrupt or
    foreign one.

    Examples
    --------
    >>> import nnfast as nf
    >>> nf.load_model("no/such/file.npz")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such model file: 'no/such/file.npz'
    """
    from nnfast import layers, losses, optimizers
    from nnfast.model import Sequential

    path = _fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(2, "No such model file", path)
    config, arrays = _read(path)
    try:
        model = Sequential([layers.deserialize(c) for c in config["layers"]],
                           input_dim=config["input_dim"], dtype=config["dtype"],
                           seed=config["seed"], name=config["name"])
        comp = config["compile"]
        if comp is not None:
            model.compile(optimizers.deserialize(comp["optimizer"]),
                          losses.deserialize(comp["loss"]), comp["metrics"])
        model.build()
        n = len(model.get_weights())
        weights = [arrays[f"weight_{i:04d}"] for i in range(n)]
        if any(w.dtype != model.dtype for w in weights):
            raise ValueError(f"weights are not all {model.dtype.name}")
        model.set_weights(weights)
        if comp is not None:
            opt = model.optimizer
            if sorted(opt.slots) != comp["slots"]:
                raise ValueError(f"optimizer state {comp['slots']} does not match {sorted(opt.slots)}")
            for k, buf in opt.slots.items():
                saved = arrays[f"optimizer_{k}"]
                if saved.shape != buf.shape or saved.dtype != buf.dtype:
                    raise ValueError(f"optimizer state {k!r} has shape {saved.shape}, expected {buf.shape}")
                np.copyto(buf, saved)
            opt.iterations = int(comp["iterations"])
            opt.lr_multiplier = float(comp["lr_multiplier"])
        model._rng.bit_generator.state = config["rng_state"]
        metadata = config.get("metadata", {})
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata is a {type(metadata).__name__}, not a dict")
        model.metadata = metadata
    except Exception as exc:
        raise ValueError(f"Expected a consistent nnfast model file, received: {path!r}, whose "
                         f"contents do not describe a valid model ({type(exc).__name__}: {exc})") from None
    return model
