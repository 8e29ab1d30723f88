# ReviewKD CIFAR-100: resnet32x4 (teacher) -> resnet8x4 (student).
# Loss weight 5.0: the official weight for this pair.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/resnet32x4_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.resnet8x4,
    teacher=_base_.cifar_models.resnet32x4,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=5.0))),
)
