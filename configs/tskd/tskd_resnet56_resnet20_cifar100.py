# TSKD CIFAR-100: resnet56 (teacher) -> multi-exit resnet20 (student).
_base_ = ['./_base_/tskd_cifar100.py']

model = dict(
    architecture=dict(_base_.cifar_models.resnet20, type='mmreviewkd.MultiExitClassifier'),
    teacher=_base_.cifar_models.resnet56,
    teacher_ckpt='work_dirs/cifar100/resnet56_cifar100/teacher.pth',
)
