# wrn_40_2 trained alone on CIFAR-100 (teacher training / student baseline), the KD
# literature's 240-epoch recipe.
_base_ = [
    '../_base_/models/cifar_zoo.py',
    '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/cifar100_sgd_240e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = _base_.cifar_models.wrn_40_2
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3, save_best='auto'))
