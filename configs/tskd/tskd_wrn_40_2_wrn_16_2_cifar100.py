# TSKD CIFAR-100: wrn_40_2 (teacher) -> multi-exit wrn_16_2 (student).
_base_ = ['./_base_/tskd_cifar100.py']

model = dict(
    architecture=dict(_base_.cifar_models.wrn_16_2, type='mmreviewkd.MultiExitClassifier'),
    teacher=_base_.cifar_models.wrn_40_2,
    teacher_ckpt='work_dirs/cifar100/wrn_40_2_cifar100/teacher.pth',
)
