# ReviewKD CIFAR-100: resnet50 (teacher) -> mobilenetv2 (student).
# The official code gives no separate weight for this pair; we use the
# 5.0 of the other cross-architecture pairs (a choice, not the paper's).
# lr 0.02: the official learning rate for ShuffleNet/MobileNet students.
_base_ = ['./_base_/reviewkd_cifar100.py']

teacher_ckpt = 'work_dirs/cifar100/resnet50_cifar100/teacher.pth'
model = dict(
    architecture=_base_.cifar_models.mobilenetv2,
    teacher=_base_.cifar_models.resnet50,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        student_recorders=dict(feats=dict(type='StageFeatures', stage_indices=(0, 1, 2, 3))),
        # MMPretrain's ResNet_CIFAR has no pre-activation outputs: post-ReLU teacher
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=False)),
        distill_losses=dict(loss_hcl=dict(loss_weight=5.0)),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=0.02))
