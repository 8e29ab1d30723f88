# A CIFAR ResNet classifier on Fashion-MNIST (1 input channel, the dataset's normalisation) with
# the short CPU schedule; the configs set the depth.
_base_ = [
    '../../_base_/models/resnet_cifar_cls.py',
    '../../_base_/datasets/fashion_mnist_bs128.py',
    '../../_base_/schedules/fmnist_sgd_cosine.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(in_channels=1),
    data_preprocessor=_base_.fmnist_preprocessor,
)
