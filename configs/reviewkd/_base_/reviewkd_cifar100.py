# ReviewKD on CIFAR-100, the official recipe (Chen et al., CVPR 2021; official code):
# CE weight 1.0, no KL term, the HCL weight of the pair warmed up linearly over 20 epochs,
# 240 epochs of Nesterov SGD. Pair configs set `architecture`, `teacher`, `teacher_ckpt`, the
# loss weight, and (for ShuffleNet/MobileNet students) lr 0.02.
_base_ = [
    '../../_base_/models/cifar_zoo.py',
    '../../_base_/datasets/cifar100_bs128.py',
    '../../_base_/schedules/cifar100_sgd_240e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    _scope_='mmreviewkd',
    type='ReviewKDDistill',
    data_preprocessor=None,  # the student's (set in the pair config from `data_preprocessor`)
    input_shape=(3, 32, 32),
    teacher_ckpt=None,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(feats=dict(type='StageFeatures')),
        # the official CIFAR code takes the teacher's stages before their final ReLU
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=True)),
        connectors=dict(review=dict(type='ReviewKDConnector')),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.0)),
        loss_forward_mappings=dict(
            loss_hcl=dict(
                s_feats=dict(from_student=True, recorder='feats', connector='review'),
                t_feats=dict(from_student=False, recorder='feats')))),
)
custom_hooks = [dict(type='mmreviewkd.DistillLossWarmupHook', warmup=20, by_epoch=True)]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3, save_best='auto'))
