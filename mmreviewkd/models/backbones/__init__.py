from .resnet_cifar import CifarBasicBlock, ResNetCifar

__all__ = ['ResNetCifar', 'CifarBasicBlock']
