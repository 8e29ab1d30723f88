# A CIFAR-style ResNet classifier (MMPretrain ImageClassifier + this package's ResNetCifar).
# out_indices exposes all 3 stages (the head reads the last one), so distillation recorders can
# read every stage without listing module paths.
model = dict(
    _scope_='mmpretrain',
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmreviewkd.ResNetCifar', depth=20, out_indices=(0, 1, 2)),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)
