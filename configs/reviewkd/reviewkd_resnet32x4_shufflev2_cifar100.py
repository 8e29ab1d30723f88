# ReviewKD CIFAR-100: resnet32x4 (teacher) -> shufflev2 (student).
# Loss weight 8.0: the official weight for this pair.
# lr 0.02: the official learning rate for ShuffleNet/MobileNet students.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/resnet32x4_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.shufflev2,
    teacher=_base_.cifar_models.resnet32x4,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        student_recorders=dict(feats=dict(type='StageFeatures', stage_indices=(0, 1, 2))),
        distill_losses=dict(loss_hcl=dict(loss_weight=8.0)),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=0.02))
