# Classic KD (Hinton et al. 2015) with MMRazor's KLDivergence: ResNet-56 teacher -> ResNet-20
# student on Fashion-MNIST. Loss = 0.1 * CE + 0.9 * tau^2 * KL with tau = 4 (the RepDistiller KD
# recipe). FrozenTeacherDistill is MMRazor's SingleTeacherDistill with the frozen-teacher step
# of ReviewKD's configs (the teacher computes only its logits, channels_last on this classifier),
# so KD and ReviewKD are timed and trained on the same fast path.
_base_ = ['./resnet20_fmnist.py', '../_base_/distillers/kd.py']

teacher_ckpt = 'work_dirs/teachers/resnet56_fmnist.pth'

student = dict(
    _base_.model,
    head=dict(_base_.model.head, loss=dict(_base_.model.head.loss, loss_weight=0.1)))
teacher = dict(_base_.model, backbone=dict(_base_.model.backbone, depth=56))

model = dict(
    _delete_=True,
    type='FrozenTeacherDistill',
    data_preprocessor=None,  # use the student's
    input_shape=(1, 28, 28),
    architecture=student,
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    distiller=_base_.kd_distiller,
)
find_unused_parameters = False
