"""The CIFAR model zoo of the KD literature as MMPretrain-compatible backbones."""
from .mobilenet_v1 import MobileNetV1
from .mobilenetv2_cifar import MobileNetV2Cifar
from .resnet_cifar import CifarBasicBlock, ResNetCifar
from .shufflenet_cifar import ShuffleNetV1Cifar, ShuffleNetV2Cifar
from .vgg_cifar import VGGCifar
from .wrn import WideResNetCifar

__all__ = [
    'ResNetCifar', 'CifarBasicBlock', 'WideResNetCifar', 'VGGCifar', 'MobileNetV2Cifar',
    'ShuffleNetV1Cifar', 'ShuffleNetV2Cifar', 'MobileNetV1'
]
