# Faster R-CNN R18-FPN on the generated Fashion-MNIST COCO data (student alone / baseline).
# Trained from scratch (no ImageNet weights offline); 12 epochs, SGD lr 0.01 at batch 8. The
# R-CNN head samples 64 RoIs per image instead of MMDet's 512 (a canvas holds at most 4 items):
# on 2 CPU cores a training step took 4.97 s with 512, 1.67 s with 128 and 1.04 s with 64
# (batch 8, 128x128; 64: the detection protocol's student runs, protocol_fmnist_coco.json).
# At test time the RPN passes 300 proposals per image to the R-CNN head instead of 1000 (the
# head's cost on CPU grows with them; 300 is the original Faster R-CNN's test setting).
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', './_base_/fmnistcoco_1x.py']
model = dict(
    backbone=dict(depth=18, init_cfg=None, norm_eval=False, frozen_stages=-1),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=10)),
    train_cfg=dict(rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(max_per_img=300)))
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
