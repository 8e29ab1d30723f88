# Student alone (the baseline): CIFAR ResNet-20 on Fashion-MNIST.
_base_ = ['./_base_/resnet_cifar_fmnist.py']
model = dict(backbone=dict(depth=20))
