# ReviewKD on ImageNet, the official recipe: SGD lr 0.1, batch 256 (8 x 32), wd 1e-4,
# 100 epochs, x0.1 at 30/60/90 (MMPretrain's imagenet_bs256 schedule is exactly this), CE 1.0,
# HCL over the 4 stage outputs + the pooled feature, no warm-up.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/models/reviewkd_classifier.py',
]

# MMPretrain ResNets returning their 4 stage maps (out_indices 0-3) and a GAP neck: the students
# (and the ResNet teacher) of the ImageNet pairs
in1k_resnets = dict(r18=dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5))))
in1k_resnets['r34'] = dict(in1k_resnets['r18'],
                           backbone=dict(in1k_resnets['r18']['backbone'], depth=34))

model = dict(
    architecture=dict(data_preprocessor=_base_.data_preprocessor),  # + the pair's student
    input_shape=(3, 224, 224),
)
