"""Layers: ``Dense``, ``Activation``, ``Dropout``, ``BatchNormalization``, ``LayerNormalization``.

Each layer is a description (validated arguments, ``get_config``) that owns views into its
model's flat buffers once built; see :mod:`nnfast.layers.base` for the contract.

>>> import nnfast as nf
>>> layer = nf.layers.deserialize(nf.layers.serialize(nf.layers.Dense(3, activation="relu")))
>>> layer.units, layer.activation.name
(3, 'relu')
"""

from nnfast.layers.activation import Activation
from nnfast.layers.base import Layer
from nnfast.layers.dense import Dense
from nnfast.layers.dropout import Dropout
from nnfast.layers.normalization import BatchNormalization, LayerNormalization

__all__ = ["Layer", "Dense", "Activation", "Dropout", "BatchNormalization", "LayerNormalization",
           "serialize", "deserialize"]

_CLASSES = {c.__name__: c for c in (Dense, Activation, Dropout, BatchNormalization,
                                    LayerNormalization)}


def serialize(layer):
    """``{"class_name": ..., "config": ...}`` (JSON-ready) for a built-in layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config):
    """The layer a :func:`serialize` dict describes; only nnfast's own classes are accepted."""
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        name = config.get("class_name") if isinstance(config, dict) else config
        raise ValueError(
            f"Expected a layer class among {', '.join(_CLASSES)}, received: {name!r}"
        )
    return _CLASSES[config["class_name"]].from_config(config.get("config", {}))
