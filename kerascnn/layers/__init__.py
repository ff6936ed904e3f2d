"""Layers: serializable, written with keras.ops only."""

from kerascnn.layers.preprocessing import ImageNormalization, normalization_layer
from kerascnn.layers.shortcuts import ZeroPadShortcut

__all__ = ["ImageNormalization", "ZeroPadShortcut", "normalization_layer"]
