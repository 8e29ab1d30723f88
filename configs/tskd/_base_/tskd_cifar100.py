# TSKD on CIFAR-100: the KD literature's 240-epoch schedule (as ReviewKD), a multi-exit student
# with BYOT-style exits on every stage but the last, BYOT loss defaults, soft vote.
_base_ = ['../../_base_/cifar100_240e.py']
model = dict(
    _scope_='mmreviewkd',
    type='TSKDDistill',
    data_preprocessor=None,
    input_shape=(3, 32, 32),
    # + the pair's student: a `cifar_models` entry as type='mmreviewkd.MultiExitClassifier'
    architecture=dict(input_shape=(3, 32, 32), data_preprocessor=_base_.data_preprocessor),
    tskd_loss=dict(type='TSKDLoss', temperature=3.0, ce_weight=0.7, teacher_kd_weight=0.3,
                   self_kd_weight=0.3, feature_weight=0.03),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='mmreviewkd.MultiExitAccuracy', topk=(1, 5)),
]
test_evaluator = val_evaluator
