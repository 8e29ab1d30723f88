# ReviewKD CIFAR-100: resnet110 (teacher) -> resnet32 (student).
# Loss weight 1.0: the official weight for this pair.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/resnet110_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.resnet32,
    teacher=_base_.cifar_models.resnet110,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=1.0))),
)
