"""Model families; importing a module registers its variants."""

from kerascnn.models import classic
from kerascnn.models import densenet
from kerascnn.models import googlenet
from kerascnn.models import mobilenet
from kerascnn.models import mobilenet_v3
from kerascnn.models import resnet
from kerascnn.models import resnet_v2
from kerascnn.models import resnext
from kerascnn.models import senet
from kerascnn.models import shufflenet
from kerascnn.models import vgg
from kerascnn.models._common import main_head

__all__ = ["classic", "densenet", "googlenet", "mobilenet", "mobilenet_v3", "resnet", "resnet_v2",
           "resnext", "senet", "shufflenet", "vgg", "main_head"]
