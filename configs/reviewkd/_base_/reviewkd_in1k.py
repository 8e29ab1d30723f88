# ReviewKD on ImageNet, the official recipe: SGD lr 0.1, batch 256 (8 x 32), wd 1e-4,
# 100 epochs, x0.1 at 30/60/90 (MMPretrain's imagenet_bs256 schedule is exactly this), CE 1.0,
# HCL over the 4 stage outputs + the pooled feature, no warm-up.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/models/reviewkd_classifier.py',
]

model = dict(
    architecture=dict(data_preprocessor=_base_.data_preprocessor),  # + the pair's student
    input_shape=(3, 224, 224),
)
