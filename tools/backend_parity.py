"""Checks that kerascnn models and layers run under another Keras backend.

Builds ResNet-20 and a model holding every kerascnn layer under the current
backend (KERAS_BACKEND), saves them as .keras with their outputs; a second
run under another backend loads them and prints the largest output difference.

    KERAS_BACKEND=jax python tools/backend_parity.py --dir=/tmp/parity --stage=save
    KERAS_BACKEND=tensorflow python tools/backend_parity.py --dir=/tmp/parity --stage=compare

The first command needs only keras, jax, ml-collections and numpy (kerascnn
on PYTHONPATH); `import kerascnn` loads no TensorFlow-only module.
"""

import pathlib
import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags

_DIR = flags.DEFINE_string("dir", "/tmp/kerascnn_backend_parity", "Where models and outputs go.")
_STAGE = flags.DEFINE_enum("stage", "save", ["save", "compare"], "Save under this backend, or compare.")


def layer_zoo():
    """A functional model through every layer class of `kerascnn.layers`."""
    import keras
    import numpy as np

    from kerascnn import layers as L

    image, weights = keras.Input((32, 32, 3)), keras.Input((3,))
    h = L.MeanImageNormalization(np.full((32, 32, 3), 100.0, "float32"), std=(60.0,) * 3)(image)
    h = L.normalization_layer("digits", 3, name="digits_norm")(h)
    h = keras.layers.Conv2D(24, 3, padding="same")(h)
    h = L.depthwise_separable_conv(h, 24, activation="gelu_approx", name="dws")
    h = L.spatial_separable_conv(h, 24, name="ss")
    h = L.grouped_conv(h, 24, 3, groups=3, name="g")
    h = L.ChannelShuffle(3)(h)
    h = keras.layers.Concatenate()(L.ChannelSplit(2)(h)[::-1])
    h = L.DepthwiseAveragePooling2D(3, strides=1)(keras.layers.ZeroPadding2D(1)(h))
    h = L.dilated_conv(h, 24, 3, dilation_rate=2, name="dil")
    h = L.SqueezeExcite(ratio=4)(h)
    h = h + L.StochasticDepth(0.8)(h)
    h = L.GroupNormalization(4)(h)
    h = L.InstanceNormalization()(h)
    h = L.LayerNormalization()(h)
    h = L.AdaIN()([h, h])
    h = L.LocalResponseNormalization()(h)
    h = L.ConditionalInstanceNormalization(3)([h, weights])
    for name in ("leaky_relu", "prelu", "sine", "gelu", "swish"):
        h = L.activation_layer(name)(h)
    h = L.flattened_conv(h, 24, strides=2, name="flat")  # unequal depthwise strides
    h = L.BatchNormalization()(h)
    h = L.MCDropout(0.0)(h)  # rate 0: the outputs stay comparable across backends
    h = L.ZeroPadShortcut(32, 2)(h)
    h = L.transposed_conv(h, 8, 2, strides=2, name="tr")
    return keras.Model([image, weights], keras.layers.GlobalAveragePooling2D()(h))


def main(argv):
    del argv
    import keras
    import numpy as np

    import kerascnn

    out = pathlib.Path(_DIR.value)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    inputs = {"layers": [x, np.full((2, 3), 1 / 3, "float32")], "resnet20": x}
    if _STAGE.value == "save":
        out.mkdir(parents=True, exist_ok=True)
        models = {"layers": layer_zoo(),
                  "resnet20": kerascnn.create_model("resnet20", num_classes=10)}
        for name, model in models.items():
            model.save(out / f"{name}.keras")
            np.save(out / f"{name}.npy", np.asarray(model(inputs[name])))
        print(f"saved under {keras.backend.backend()} to {out}")
        return
    for name in inputs:
        model = keras.saving.load_model(out / f"{name}.keras")
        diff = np.abs(np.asarray(model(inputs[name])) - np.load(out / f"{name}.npy")).max()
        print(f"{name}: max |{keras.backend.backend()} - saved| = {diff:.3g}")


if __name__ == "__main__":
    kerascnn_cli.run(main, sys.modules[__name__])
