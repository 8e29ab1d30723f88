# ReviewKD on the generated Fashion-MNIST COCO data: Mask R-CNN R50-FPN teacher -> R18-FPN
# student, HCL over the 5 FPN levels (weight 1.0).
_base_ = ['./mask-rcnn_r18_fpn_fmnistcoco.py', '../../_base_/reviewkd_fpn.py']

teacher = dict(
    _base_.model,
    backbone=dict(_base_.model.backbone, depth=50),
    neck=dict(_base_.model.neck, in_channels=[256, 512, 1024, 2048]))
model = dict(
    _base_.reviewkd_det,
    input_shape=(3, 128, 128),
    architecture=dict(_base_.model, _scope_='mmdet'),
    teacher=dict(teacher, _scope_='mmdet'),
    teacher_ckpt='work_dirs/teachers/mask-rcnn_r50_fpn_fmnistcoco.pth')
