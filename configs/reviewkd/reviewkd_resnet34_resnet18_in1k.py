# ReviewKD ImageNet: ResNet-34 (teacher) -> ResNet-18 (student), loss weight 1.0 (official),
# mid channels 512 (= min(512, 512), the official value).
# teacher_ckpt: a trained MMPretrain ResNet-34 (e.g. from `configs/imagenet/resnet34_in1k.py`
# or MMPretrain's model zoo) saved at this path.
_base_ = ['./_base_/reviewkd_in1k.py']


def _resnet(depth, channels):
    return dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=depth, num_stages=4, out_indices=(0, 1, 2, 3),
                      style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=channels,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))


model = dict(
    architecture=_resnet(18, 512),
    teacher=_resnet(34, 512),
    teacher_ckpt='checkpoints/resnet34_in1k.pth',
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=1.0))),
)
