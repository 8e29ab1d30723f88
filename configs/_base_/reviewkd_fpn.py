# ReviewKD on the FPN outputs of any MMDet detector (docs/design.md §2): every neck level is recorded
# (no pooled level), reviewed by 256-channel ABFs (in = mid = out = 256, inferred) and matched by
# HCL. The detection heads keep using the student's own FPN outputs. The distiller of
# `reviewkd_det` below.
reviewkd_fpn_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(fpn=dict(type='mmreviewkd.StageFeatures', source='neck',
                                    pooled_source=None)),
    teacher_recorders=dict(fpn=dict(type='mmreviewkd.StageFeatures', source='neck',
                                    pooled_source=None)),
    connectors=dict(review=dict(type='mmreviewkd.ReviewKDConnector', mid_channels=256)),
    distill_losses=dict(loss_hcl=dict(type='mmreviewkd.HCLLoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_hcl=dict(
            s_feats=dict(from_student=True, recorder='fpn', connector='review'),
            t_feats=dict(from_student=False, recorder='fpn'))))

# The ReviewKD wrapper of the detection configs: it replaces the MMDet base's `model`
# (`_delete_`); a config adds `architecture`, `teacher` (the base detector, on COCO with one of
# `fpn_backbones`: configs/reviewkd_det/_base_/), `teacher_ckpt` and the pair's HCL weight (the
# Fashion-MNIST COCO configs also their smaller `input_shape`).
reviewkd_det = dict(
    _delete_=True,
    _scope_='mmreviewkd',
    type='ReviewKDDistill',
    data_preprocessor=None,  # the student's DetDataPreprocessor
    input_shape=(3, 256, 256),  # only for inferring shapes at build time
    distiller=reviewkd_fpn_distiller)

# Backbones of the ReviewKD detection pairs (MMDet's ResNet settings of the r50 2x configs, with
# torchvision ImageNet weights; MMDet's MobileNetV2) and the FPN `in_channels` they need.
_resnet = dict(type='ResNet', num_stages=4, out_indices=(0, 1, 2, 3), frozen_stages=1,
               norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch')
fpn_backbones = dict(
    r18=dict(backbone=dict(_resnet, depth=18, init_cfg=dict(
        type='Pretrained', checkpoint='torchvision://resnet18')),
        in_channels=[64, 128, 256, 512]),
    r50=dict(backbone=dict(_resnet, depth=50, init_cfg=dict(
        type='Pretrained', checkpoint='torchvision://resnet50')),
        in_channels=[256, 512, 1024, 2048]),
    r101=dict(backbone=dict(_resnet, depth=101, init_cfg=dict(
        type='Pretrained', checkpoint='torchvision://resnet101')),
        in_channels=[256, 512, 1024, 2048]),
    mbv2=dict(backbone=dict(
        type='MobileNetV2', out_indices=(1, 2, 4, 6), act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://mmdet/mobilenet_v2')),
        in_channels=[24, 32, 96, 320]),
)
