# Teacher: Mask R-CNN R50-FPN on the generated Fashion-MNIST COCO data.
_base_ = ['./mask-rcnn_r18_fpn_fmnistcoco.py']
model = dict(
    backbone=dict(depth=50),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
