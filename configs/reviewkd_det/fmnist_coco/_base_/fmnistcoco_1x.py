# Training on the generated Fashion-MNIST COCO data on CPU: MMDet's 1x schedule (12 epochs) at
# SGD lr 0.01 and batch 8, checkpoints every epoch, gloo. The configs add an MMDet detector
# (`mmdet::_base_/models/...`) trained from scratch (no ImageNet weights offline).
_base_ = [
    '../../../_base_/datasets/fmnist_coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2),
                     logger=dict(interval=10))
auto_scale_lr = dict(enable=False, base_batch_size=8)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
