# Faster R-CNN R18-FPN on the generated Fashion-MNIST COCO data (student alone / baseline).
# Trained from scratch (no ImageNet weights offline); 12 epochs, SGD lr 0.01 at batch 8.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../../_base_/datasets/fmnist_coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(depth=18, init_cfg=None, norm_eval=False, frozen_stages=-1),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=10)))
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2),
                     logger=dict(interval=10))
auto_scale_lr = dict(enable=False, base_batch_size=8)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
