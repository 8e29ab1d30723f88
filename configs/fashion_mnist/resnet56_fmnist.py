# Teacher: CIFAR ResNet-56 on Fashion-MNIST.
_base_ = ['./_base_/resnet_cifar_fmnist.py']
model = dict(backbone=dict(depth=56))
