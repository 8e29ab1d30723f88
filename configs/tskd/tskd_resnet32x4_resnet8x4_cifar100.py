# TSKD CIFAR-100: resnet32x4 (teacher) -> multi-exit resnet8x4 (student).
_base_ = ['./_base_/tskd_cifar100.py']

model = dict(
    architecture=dict(_base_.cifar_models.resnet8x4, type='mmreviewkd.MultiExitClassifier'),
    teacher=_base_.cifar_models.resnet32x4,
    teacher_ckpt='work_dirs/cifar100/resnet32x4_cifar100/teacher.pth',
)
