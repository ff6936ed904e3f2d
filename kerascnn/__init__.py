"""kerascnn: CNN image classifiers as Keras 3 functional-API builders.

`import kerascnn` loads the models, layers and the registry, and registers
everything a `.keras` file of a kerascnn model may name (layers, the
optimizer and schedule, the augmentation policy layers), under any Keras
backend and without TensorFlow. `kerascnn.load_model(path)` loads such a file
and, when it names objects that are still unregistered, says so first.
tf.data, augmentation pipelines, training and export load on first use and
need TensorFlow.
"""

from kerascnn._version import __version__
from kerascnn import layers, models  # noqa: F401  (registers the models)
# Registers the optimizer and schedule that training saves inside .keras files,
# so `import kerascnn` is all keras.saving.load_model needs.
from kerascnn.train import optimizers as _optimizers, schedules as _schedules  # noqa: F401
# Registers the policy layers (RandAugment, TrivialAugmentWide) for models that hold them.
from kerascnn.augment import layers as _policy_layers  # noqa: F401
from kerascnn._io import load_model
from kerascnn import interop  # noqa: F401  (from_keras_applications)
from kerascnn.registry import create_model, list_models, register_model, register_variant

__all__ = ["create_model", "interop", "list_models", "load_model", "register_model", "register_variant",
           "layers", "models", "__version__"]
