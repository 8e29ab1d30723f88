# ReviewKD between two MMDet Faster R-CNN FPN detectors on COCO with MMDet's 2x schedule (the
# official 180k iterations at batch 16); the wrapper and the distiller are
# ../../_base_/reviewkd_fpn.py's. A pair config sets the student's and the teacher's backbones
# (from `fpn_backbones`, with the FPN `in_channels` they need), `teacher_ckpt` and the HCL weight.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py', '../../_base_/reviewkd_fpn.py']

model = dict(
    _base_.reviewkd_det,
    architecture=dict(_base_.model, _scope_='mmdet', backbone=dict()),  # backbone: the pair's
    teacher=dict(_base_.model, _scope_='mmdet', backbone=dict()))
find_unused_parameters = False
