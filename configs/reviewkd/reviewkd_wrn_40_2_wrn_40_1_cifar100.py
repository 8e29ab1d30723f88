# ReviewKD CIFAR-100: wrn_40_2 (teacher) -> wrn_40_1 (student).
# Loss weight 5.0: the official weight for this pair.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/wrn_40_2_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.wrn_40_1,
    teacher=_base_.cifar_models.wrn_40_2,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=5.0))),
)
