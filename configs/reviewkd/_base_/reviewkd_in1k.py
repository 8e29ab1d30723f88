# ReviewKD on ImageNet, the official recipe: SGD lr 0.1, batch 256 (8 x 32), wd 1e-4,
# 100 epochs, x0.1 at 30/60/90 (MMPretrain's imagenet_bs256 schedule is exactly this), CE 1.0,
# HCL over the 4 stage outputs + the pooled feature, no warm-up.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    _scope_='mmreviewkd',
    type='ReviewKDDistill',
    data_preprocessor=None,
    input_shape=(3, 224, 224),
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(feats=dict(type='StageFeatures')),
        teacher_recorders=dict(feats=dict(type='StageFeatures')),
        connectors=dict(review=dict(type='ReviewKDConnector')),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.0)),
        loss_forward_mappings=dict(
            loss_hcl=dict(
                s_feats=dict(from_student=True, recorder='feats', connector='review'),
                t_feats=dict(from_student=False, recorder='feats')))),
)
