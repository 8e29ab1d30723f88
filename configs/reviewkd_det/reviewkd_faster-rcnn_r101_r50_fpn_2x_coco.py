# ReviewKD COCO: faster-rcnn R101-FPN (teacher) -> R50-FPN (student), loss weight 1.0
# (the official weight of this pair). HCL over every FPN level with 256-channel ABFs; the heads use
# the student's own FPN outputs. MMDet's 2x schedule (the official 180k iterations at batch 16).
# teacher_ckpt: a trained MMDet faster-rcnn R101-FPN (MMDet model zoo or the base config).
_base_ = ['./_base_/reviewkd_faster-rcnn_fpn_2x_coco.py']

student_net, teacher_net = _base_.fpn_backbones.r50, _base_.fpn_backbones.r101
model = dict(
    architecture=dict(backbone=student_net.backbone,
                      neck=dict(in_channels=student_net.in_channels)),
    teacher=dict(backbone=teacher_net.backbone, neck=dict(in_channels=teacher_net.in_channels)),
    teacher_ckpt='checkpoints/faster-rcnn_r101_fpn_2x_coco.pth',
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=1.0))))
