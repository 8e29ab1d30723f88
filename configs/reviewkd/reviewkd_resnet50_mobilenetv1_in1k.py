# ReviewKD ImageNet: ResNet-50 (teacher) -> MobileNetV1 (student), loss weight 8.0 and mid
# channels 256 (both official).
_base_ = ['./_base_/reviewkd_in1k.py']

model = dict(
    architecture=dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='mmreviewkd.MobileNetV1', out_indices=(0, 1, 2, 3)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5))),
    teacher=dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
                      style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5))),
    teacher_ckpt='checkpoints/resnet50_in1k.pth',
    distiller=dict(
        connectors=dict(review=dict(mid_channels=256)),
        distill_losses=dict(loss_hcl=dict(loss_weight=8.0))),
)
