# The KD literature's CIFAR-100 recipe, shared by the baselines (cifar100/), ReviewKD and TSKD:
# the CIFAR model zoo (`cifar_models`), batch 128, 240 epochs of Nesterov SGD, MMPretrain's
# runtime, a checkpoint every 10 epochs plus the best one.
_base_ = [
    './models/cifar_zoo.py',
    './datasets/cifar100_bs128.py',
    './schedules/cifar100_sgd_240e.py',
    'mmpretrain::_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3, save_best='auto'))
