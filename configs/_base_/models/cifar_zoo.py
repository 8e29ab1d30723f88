# The CIFAR KD model zoo as MMPretrain classifiers (100 classes). Every backbone returns all of
# its stages (the head reads the last), so distillation recorders need no module paths.
# Used as `_base_.cifar_models.<name>` by the CIFAR-100 configs.
def _cls(backbone, channels, num_classes=100):
    return dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=channels,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))


def _resnet(depth, width=1):
    return _cls(dict(type='mmreviewkd.ResNetCifar', depth=depth, width=width,
                     out_indices=(0, 1, 2)), 64 * width)


def _wrn(depth, k):
    return _cls(dict(type='mmreviewkd.WideResNetCifar', depth=depth, widen_factor=k,
                     out_indices=(0, 1, 2)), 64 * k)


def _vgg(depth):
    return _cls(dict(type='mmreviewkd.VGGCifar', depth=depth, out_indices=(1, 2, 3, 4)), 512)


cifar_models = dict(
    resnet8=_resnet(8), resnet14=_resnet(14), resnet20=_resnet(20), resnet32=_resnet(32),
    resnet44=_resnet(44), resnet56=_resnet(56), resnet110=_resnet(110),
    resnet8x4=_resnet(8, 4), resnet32x4=_resnet(32, 4),
    wrn_16_2=_wrn(16, 2), wrn_40_1=_wrn(40, 1), wrn_40_2=_wrn(40, 2),
    vgg8=_vgg(8), vgg13=_vgg(13),
    # ResNet-50 teacher of the KD literature = MMPretrain's ResNet_CIFAR (3x3 stem, no max-pool)
    resnet50=_cls(dict(type='ResNet_CIFAR', depth=50, out_indices=(0, 1, 2, 3)), 2048),
    # last output = the head-only 1x1 conv; ReviewKD records stages 1-4 (+ pooled)
    mobilenetv2=_cls(dict(type='mmreviewkd.MobileNetV2Cifar', out_indices=(1, 2, 3, 4, 5)),
                     1280),
    shufflev1=_cls(dict(type='mmreviewkd.ShuffleNetV1Cifar', out_indices=(0, 1, 2)), 960),
    # last output = the head-only 1x1 conv; ReviewKD records stages 0-2 (+ pooled)
    shufflev2=_cls(dict(type='mmreviewkd.ShuffleNetV2Cifar', out_indices=(0, 1, 2, 3)), 1024),
)
