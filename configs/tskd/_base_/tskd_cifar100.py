# TSKD on CIFAR-100: the KD literature's 240-epoch schedule (as ReviewKD), a multi-exit student
# with BYOT-style exits on every stage but the last, BYOT loss defaults, soft vote.
_base_ = [
    '../../_base_/models/cifar_zoo.py',
    '../../_base_/datasets/cifar100_bs128.py',
    '../../_base_/schedules/cifar100_sgd_240e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    _scope_='mmreviewkd',
    type='TSKDDistill',
    data_preprocessor=None,
    input_shape=(3, 32, 32),
    tskd_loss=dict(type='TSKDLoss', temperature=3.0, ce_weight=0.7, teacher_kd_weight=0.3,
                   self_kd_weight=0.3, feature_weight=0.03),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='mmreviewkd.MultiExitAccuracy', topk=(1, 5)),
]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3, save_best='auto'))
