# TSKD on Fashion-MNIST: ResNet-56 teacher -> multi-exit ResNet-20 student (exits after stages 1
# and 2, the deepest exit is the normal head). Every exit learns from the labels and the
# teacher with the package's KD recipe (0.1 CE + 0.9 T^2 KL at T = 4, as
# ../fashion_mnist/kd_resnet56_resnet20_fmnist.py), the shallow exits also from the deepest exit
# (BYOT's self-distillation terms: KL weight 0.3, feature L2 weight 0.03). Prediction = soft vote
# of the 3 exits; tools/fmnist_main_job.py fits the vote weights on the validation split.
# The BYOT-weight variant (teacher term 0.3 at T = 3): tskd_byot_weights_resnet56_resnet20_fmnist.py
_base_ = ['../fashion_mnist/resnet20_fmnist.py']

teacher_ckpt = 'work_dirs/teachers/resnet56_fmnist.pth'
teacher = dict(_base_.model, backbone=dict(_base_.model.backbone, depth=56))
student = dict(
    _base_.model,
    type='mmreviewkd.MultiExitClassifier',
    input_shape=(1, 28, 28),
    exit_cfg=dict(type='mmreviewkd.BottleneckExit'),
    vote='soft')

model = dict(
    _delete_=True,
    type='TSKDDistill',
    data_preprocessor=None,
    input_shape=(1, 28, 28),
    architecture=student,
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    tskd_loss=dict(
        type='TSKDLoss', temperature=4.0, ce_weight=0.1, teacher_kd_weight=0.9,
        self_kd_weight=0.3, feature_weight=0.03),
)
val_evaluator = [
    dict(type='mmpretrain.Accuracy', topk=(1, )),  # the vote (pred_score)
    dict(type='MultiExitAccuracy', topk=(1, 5)),  # every exit and the vote
]
test_evaluator = val_evaluator
