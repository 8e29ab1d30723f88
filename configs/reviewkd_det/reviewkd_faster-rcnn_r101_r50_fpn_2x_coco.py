# ReviewKD COCO: faster-rcnn R101-FPN (teacher) -> R50-FPN (student), loss weight 1.0
# (the official weight of this pair). HCL over every FPN level with 256-channel ABFs; the heads use
# the student's own FPN outputs. MMDet's 2x schedule (the official 180k iterations at batch 16).
# teacher_ckpt: a trained MMDet faster-rcnn R101-FPN (MMDet model zoo or the base config).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py', '../_base_/reviewkd_fpn.py']

model = dict(
    _delete_=True,
    _scope_='mmreviewkd',
    type='ReviewKDDistill',
    data_preprocessor=None,  # the student's DetDataPreprocessor
    input_shape=(3, 256, 256),  # only for inferring shapes at build time
    architecture=dict(
        _base_.model,
        _scope_='mmdet',
        backbone=_base_.model.backbone,
        neck=dict(_base_.model.neck, in_channels=[256, 512, 1024, 2048])),
    teacher=dict(
        _base_.model,
        _scope_='mmdet',
        backbone=dict(
            _base_.model.backbone, depth=101,
            init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
        neck=dict(_base_.model.neck, in_channels=[256, 512, 1024, 2048])),
    teacher_ckpt='checkpoints/faster-rcnn_r101_fpn_2x_coco.pth',
    distiller=dict(
        _base_.reviewkd_fpn_distiller,
        distill_losses=dict(loss_hcl=dict(type='mmreviewkd.HCLLoss', loss_weight=1.0))))
find_unused_parameters = False
