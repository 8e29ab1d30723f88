# TSKD ImageNet: ResNet-34 (teacher) -> multi-exit ResNet-18 (exits after stages 1-3), with
# MMPretrain's ImageNet recipe (SGD lr 0.1, batch 256, 100 epochs, x0.1 at 30/60/90).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]


def _resnet(depth, **kwargs):
    cfg = dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=depth, num_stages=4, out_indices=(0, 1, 2, 3)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))
    cfg.update(kwargs)
    return cfg


model = dict(
    _scope_='mmreviewkd',
    type='TSKDDistill',
    data_preprocessor=None,
    input_shape=(3, 224, 224),
    architecture=_resnet(
        18, type='mmreviewkd.MultiExitClassifier', input_shape=(3, 224, 224),
        data_preprocessor=_base_.data_preprocessor),
    teacher=_resnet(34),
    teacher_ckpt='checkpoints/resnet34_in1k.pth',
    tskd_loss=dict(type='TSKDLoss'),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='mmreviewkd.MultiExitAccuracy', topk=(1, 5)),
]
test_evaluator = val_evaluator
