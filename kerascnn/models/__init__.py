"""Model families; importing a module registers its variants."""

from kerascnn.models import resnet

__all__ = ["resnet"]
