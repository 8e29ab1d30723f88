# Mask R-CNN R18-FPN on the generated Fashion-MNIST COCO data (student alone / baseline).
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', './_base_/fmnistcoco_1x.py']
model = dict(
    backbone=dict(depth=18, init_cfg=None, norm_eval=False, frozen_stages=-1),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=10), mask_head=dict(num_classes=10)))
