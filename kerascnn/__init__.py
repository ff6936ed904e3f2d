"""kerascnn: CNN image classifiers as Keras 3 functional-API builders."""

__version__ = "0.1.0"

from kerascnn import layers, models  # noqa: E402,F401  (registers the models)
# Registers the optimizer and schedule that training saves inside .keras files,
# so `import kerascnn` is all keras.saving.load_model needs.
from kerascnn.train import optimizers as _optimizers, schedules as _schedules  # noqa: E402,F401
# Registers the policy layers (RandAugment, TrivialAugmentWide) for models that hold them.
from kerascnn.augment import policies as _policies  # noqa: E402,F401
from kerascnn.registry import create_model, list_models, register_model  # noqa: E402

__all__ = ["create_model", "list_models", "register_model", "layers", "models", "__version__"]
