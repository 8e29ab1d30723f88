# CIFAR-100 through MMPretrain's own base config (data/cifar100, the python pickles), with the
# KD literature's batch size. Keeps MMPretrain's default scope for its pipeline/dataset types.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
train_dataloader = dict(batch_size=128, num_workers=4)
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
