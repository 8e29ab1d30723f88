# ReviewKD CIFAR-100: resnet56 (teacher) -> resnet20 (student).
# Loss weight 0.6: the official weight for this pair.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/resnet56_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.resnet20,
    teacher=_base_.cifar_models.resnet56,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=0.6))),
)
