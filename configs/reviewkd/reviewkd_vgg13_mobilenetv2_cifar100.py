# ReviewKD CIFAR-100: vgg13 (teacher) -> mobilenetv2 (student).
# The official code gives no separate weight for this pair; we use the
# 5.0 of the other cross-architecture pairs (a choice, not the paper's).
# lr 0.02: the official learning rate for ShuffleNet/MobileNet students.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/vgg13_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.mobilenetv2,
    teacher=_base_.cifar_models.vgg13,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        student_recorders=dict(feats=dict(type='StageFeatures', stage_indices=(0, 1, 2, 3))),
        distill_losses=dict(loss_hcl=dict(loss_weight=5.0)),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=0.02))
