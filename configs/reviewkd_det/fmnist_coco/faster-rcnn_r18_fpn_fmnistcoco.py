# Faster R-CNN R18-FPN on the generated Fashion-MNIST COCO data (student alone / baseline).
# Trained from scratch (no ImageNet weights offline); 12 epochs, SGD lr 0.01 at batch 8.
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', './_base_/fmnistcoco_1x.py']
model = dict(
    backbone=dict(depth=18, init_cfg=None, norm_eval=False, frozen_stages=-1),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=10)))
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
